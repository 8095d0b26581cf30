// ipc/ — a bounded hand-off of text lines from a producer thread (the
// daemon's query threads for an export, the index thread for a live tail) to
// one connection's strand, which writes them out.
//
// Bounds: at most `max_bytes` of lines wait in the channel. Push (exports)
// blocks the producer while it is over the bound, until the connection has
// taken lines out or is gone: that is the back-pressure, the export never
// builds up in memory. TryPush (the tail, whose producer must not block)
// never waits: over the bound the channel closes as overflowed — a slow
// client is dropped rather than growing memory.
//
// Ending: the producer calls Finish (the end of an export, with its status)
// once; the consumer calls Close when its client is gone (or the listener
// stops): from then on Push/TryPush return false and the producer stops.
// `on_close` (SetOnClose) runs exactly once when the channel closes (Close,
// overflow, or Finish), on the thread that closed it — never with the
// channel's lock held; the daemon uses it to end a tail subscription.
//
// Waking: SetWaker's function is called, without the lock, when a line or
// the end arrives after a Take that found nothing (the consumer posts to its
// strand there). Thread-safe; no I/O.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace spanvault::ipc {

class LineChannel {
 public:
  explicit LineChannel(size_t max_bytes) : max_bytes_(max_bytes == 0 ? 1 : max_bytes) {}
  LineChannel(const LineChannel&) = delete;
  LineChannel& operator=(const LineChannel&) = delete;

  // Producer: queues one line (the caller adds any '\n'). Blocks while more
  // than max_bytes wait; false once the channel is closed or finished.
  bool Push(std::string line);
  // Producer: queues one line without waiting. Over max_bytes the channel
  // closes (overflowed() turns true) and this returns false.
  bool TryPush(std::string line);
  // Producer: no more lines. `status` != 200 with no line pushed: the
  // request is refused, `error` says why. Idempotent (the first call wins).
  void Finish(int status = 200, std::string error = {});

  // Consumer: everything queued, and whether the producer finished.
  struct Taken {
    std::vector<std::string> lines;
    bool finished = false;  // Finish was called (and every line is in `lines` or was taken before)
    bool closed = false;    // closed (Close or overflow): write nothing more
    int status = 200;       // Finish's status
    std::string error;      // Finish's error
  };
  Taken Take();
  // Consumer: the client is gone; the producer stops at its next Push.
  void Close();

  void SetWaker(std::function<void()> wake);
  // Runs `fn` once when the channel closes or finishes; at once (on this
  // thread) when it already has.
  void SetOnClose(std::function<void()> fn);

  bool overflowed() const;
  uint64_t pushed() const;  // lines accepted so far

 private:
  // Called with the lock released: the waker and on_close, as due.
  void Notify(std::function<void()> wake, std::function<void()> on_close);

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<std::string> lines_;
  size_t bytes_ = 0;
  uint64_t pushed_ = 0;
  bool finished_ = false;
  bool closed_ = false;
  bool overflowed_ = false;
  bool waiting_ = true;  // the consumer found nothing: wake it on the next line
  int status_ = 200;
  std::string error_;
  std::function<void()> wake_;
  std::function<void()> on_close_;
};

}  // namespace spanvault::ipc
