// ipc/ (private) — the stream listener in two halves: the listener itself
// (accept, connection caps, idle sweep, the control thread, stop:
// stream_listener.cc) and one StreamSession per connection (framing, decoding,
// barriers, control lines, answers: stream_session.cc). This header is what
// the two share.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "common/log_limiter.h"
#include "ipc/peer_cred.h"
#include "ipc/session_registry.h"
#include "ipc/stream_listener.h"

namespace spanvault::ipc {
namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

// One limiter for the stream listener's repeated warnings.
inline LogLimiter& Limiter() {
  static LogLimiter limiter;
  return limiter;
}

inline std::string PeerKey(const PeerCred& p) { return p.known ? "uid " + std::to_string(p.uid) : "unknown peer"; }

class StreamSession;

class StreamListener::Impl : public std::enable_shared_from_this<StreamListener::Impl> {
 public:
  Impl(asio::io_context& ioc, int fd, StreamOptions options, span::Limits limits, SubmitFn submit, Counters& counters,
       ControlFn control)
      : ioc_(ioc),
        acceptor_(asio::make_strand(ioc)),
        options_(options),
        limits_(limits),
        submit_(std::move(submit)),
        counters_(counters),
        control_(std::move(control)) {
    acceptor_.assign(stream(), fd);
  }

  ~Impl() {
    StopControlThread();
    // The last reference can go on that thread (a finished job held it).
    if (control_thread_.joinable()) control_thread_.detach();
  }

  void Start() {
    DoAccept();
    if (options_.idle_timeout.count() > 0) {
      sweep_timer_.emplace(acceptor_.get_executor());
      ScheduleSweep();
    }
  }
  void Stop();

  bool Offloaded(std::string_view key) const {
    return std::find(options_.offload_controls.begin(), options_.offload_controls.end(), key) !=
           options_.offload_controls.end();
  }
  // Runs `job(false)` on the control thread (started on first use), or
  // `job(true)` at once when the listener is stopping: then nothing runs
  // the control function any more.
  void Offload(std::function<void(bool cancelled)> job);
  // Lets the running job finish, cancels the queued ones, joins the thread.
  void StopControlThread();

  // Per-uid connection counts (admin peers are not counted).
  bool AdmitUid(uid_t uid) {
    std::lock_guard lk(uid_mu_);
    uint32_t& n = per_uid_[uid];
    if (n >= options_.max_connections_per_uid) {
      if (n == 0) per_uid_.erase(uid);
      return false;
    }
    ++n;
    return true;
  }
  void ReleaseUid(uid_t uid) {
    std::lock_guard lk(uid_mu_);
    auto it = per_uid_.find(uid);
    if (it != per_uid_.end() && --it->second == 0) per_uid_.erase(it);
  }

  asio::io_context& ioc_;
  stream::acceptor acceptor_;
  StreamOptions options_;
  span::Limits limits_;
  SubmitFn submit_;
  Counters& counters_;
  ControlFn control_;
  SessionRegistry<StreamSession> sessions_;

 private:
  void DoAccept();
  void OnAccept(boost::system::error_code ec, stream::socket socket);
  void ControlLoop();
  void ScheduleSweep();

  std::mutex uid_mu_;
  std::unordered_map<uid_t, uint32_t> per_uid_;
  std::optional<asio::steady_timer> sweep_timer_;

  std::mutex control_mu_;
  std::condition_variable control_cv_;
  std::deque<std::function<void(bool)>> control_jobs_;
  bool control_stopped_ = false;
  std::thread control_thread_;
};

// A session as the listener drives it (stream_session.cc). Make, then add to
// sessions_, then Start; the others run on the session's strand
// (SessionExecutor).
std::shared_ptr<StreamSession> MakeSession(stream::socket socket, std::shared_ptr<StreamListener::Impl> owner,
                                           PeerCred peer, bool admin, bool uid_counted);
void StartSession(StreamSession& s);
asio::any_io_executor SessionExecutor(StreamSession& s);
int64_t SessionLastActiveNs(const StreamSession& s);
// Stops reading; what was read is still decoded, stored and answered.
void StopSessionReading(StreamSession& s);
// Closes the connection when no byte came since `cutoff_ns` (steady clock)
// and nothing of it is in flight.
void CloseSessionIfIdle(StreamSession& s, int64_t cutoff_ns);

}  // namespace spanvault::ipc
