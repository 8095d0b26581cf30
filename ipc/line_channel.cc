#include "ipc/line_channel.h"

#include <utility>

namespace spanvault::ipc {

void LineChannel::Notify(std::function<void()> wake, std::function<void()> on_close) {
  if (wake) wake();
  if (on_close) on_close();
}

bool LineChannel::Push(std::string line) {
  std::function<void()> wake;
  {
    std::unique_lock lk(mu_);
    room_.wait(lk, [this] { return closed_ || finished_ || bytes_ < max_bytes_; });
    if (closed_ || finished_) return false;
    bytes_ += line.size();
    lines_.push_back(std::move(line));
    ++pushed_;
    if (waiting_) {
      waiting_ = false;
      wake = wake_;
    }
  }
  Notify(std::move(wake), nullptr);
  return true;
}

bool LineChannel::TryPush(std::string line) {
  std::function<void()> wake, on_close;
  bool ok = true;
  {
    std::lock_guard lk(mu_);
    if (closed_ || finished_) return false;
    if (bytes_ + line.size() > max_bytes_ && !lines_.empty()) {
      closed_ = overflowed_ = true;
      ok = false;
      on_close = std::move(on_close_);
      on_close_ = nullptr;
    } else {
      bytes_ += line.size();
      lines_.push_back(std::move(line));
      ++pushed_;
    }
    // Overflowed or not, the consumer has news.
    if (waiting_) {
      waiting_ = false;
      wake = wake_;
    }
    // Closed: nothing will wake the consumer again, and the waker (which
    // holds the consumer) must not keep it alive through the channel.
    if (closed_) wake_ = nullptr;
  }
  room_.notify_all();
  Notify(std::move(wake), std::move(on_close));
  return ok;
}

void LineChannel::Finish(int status, std::string error) {
  std::function<void()> wake, on_close;
  {
    std::lock_guard lk(mu_);
    if (finished_ || closed_) return;
    finished_ = true;
    status_ = status;
    error_ = std::move(error);
    on_close = std::move(on_close_);
    on_close_ = nullptr;
    if (waiting_) {
      waiting_ = false;
      wake = wake_;
    }
    wake_ = nullptr;  // Take now sees the end: no further wake-up is needed
  }
  room_.notify_all();
  Notify(std::move(wake), std::move(on_close));
}

LineChannel::Taken LineChannel::Take() {
  Taken t;
  {
    std::lock_guard lk(mu_);
    t.lines.assign(std::make_move_iterator(lines_.begin()), std::make_move_iterator(lines_.end()));
    lines_.clear();
    bytes_ = 0;
    t.finished = finished_;
    t.closed = closed_;
    t.status = status_;
    t.error = error_;
    if (t.lines.empty() && !finished_ && !closed_) waiting_ = true;
  }
  room_.notify_all();
  return t;
}

void LineChannel::Close() {
  std::function<void()> on_close;
  {
    std::lock_guard lk(mu_);
    wake_ = nullptr;  // the consumer is gone (also after an overflow closed the channel)
    if (closed_) return;
    closed_ = true;
    lines_.clear();
    bytes_ = 0;
    on_close = std::move(on_close_);
    on_close_ = nullptr;
  }
  room_.notify_all();
  Notify(nullptr, std::move(on_close));
}

void LineChannel::SetWaker(std::function<void()> wake) {
  std::lock_guard lk(mu_);
  wake_ = std::move(wake);
}

void LineChannel::SetOnClose(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (!closed_ && !finished_) {
      on_close_ = std::move(fn);
      return;
    }
  }
  fn();
}

bool LineChannel::overflowed() const {
  std::lock_guard lk(mu_);
  return overflowed_;
}

uint64_t LineChannel::pushed() const {
  std::lock_guard lk(mu_);
  return pushed_;
}

}  // namespace spanvault::ipc
