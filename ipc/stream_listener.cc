// The stream listener: accepts connections on the Unix stream socket within
// the connection caps, sweeps idle ones, runs the control thread for slow
// control lines, and stops cleanly (what was read is still stored and
// answered). Each connection is a StreamSession (stream_session.cc).
#include "ipc/stream_listener.h"

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "ipc/stream_listener_impl.h"

namespace spanvault::ipc {

void StreamListener::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [self = shared_from_this()](boost::system::error_code ec, stream::socket socket) {
                           self->OnAccept(ec, std::move(socket));
                         });
}

void StreamListener::Impl::OnAccept(boost::system::error_code ec, stream::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (!sessions_.open()) return;
  if (ec) {
    // Out of file descriptors (or another transient error): pause instead
    // of spinning on a listening socket that stays readable.
    LOG_WARN("unix stream accept failed; retrying in 100 ms", {{"error", ec.message()}});
    auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(100));
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) { self->DoAccept(); });
    return;
  }
  auto& c = counters_[span::Transport::kUnixStream];
  PeerCred peer = ReadPeerCred(socket.native_handle());
  const bool admin = options_.admin.Allows(peer);
  // Admin peers (root, the daemon's uid, the admin group) are not capped
  // per uid and have a reserve past the total, so that an operator gets in
  // while apps hold every other connection.
  std::string refusal;
  const size_t total_cap = options_.max_connections + (admin ? options_.admin_reserve : 0);
  bool uid_counted = false;
  if (c.connections.load() >= total_cap) {
    refusal = "connection limit reached (ingest.max_connections = " + std::to_string(options_.max_connections) + ")";
  } else if (!admin && !(uid_counted = AdmitUid(peer.uid))) {
    refusal = "per-uid connection limit reached (ingest.max_connections_per_uid = " +
              std::to_string(options_.max_connections_per_uid) + ")";
  }
  if (!refusal.empty()) {
    c.connections_refused.fetch_add(1, std::memory_order_relaxed);
    if (uint64_t n = Limiter().Tick(PeerKey(peer) + " refused")) {
      LOG_WARN("unix stream connection refused",
               {{"reason", refusal}, {"peer", PeerKey(peer)}, {"pid", peer.pid}, {"refused", n}});
    }
    // One line saying why, if the socket takes it now; then closed.
    std::string line = nlohmann::json({{"error", "spanvaultd refused the connection: " + refusal}}).dump() + "\n";
    (void)::send(socket.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    c.connections.fetch_add(1);
    c.connections_total.fetch_add(1);
    auto session = MakeSession(std::move(socket), shared_from_this(), std::move(peer), admin, uid_counted);
    sessions_.Add(session, c.connections.load());
    StartSession(*session);
  }
  DoAccept();
}

void StreamListener::Impl::ScheduleSweep() {
  // A quarter of the timeout between looks (at most 10 s): a connection
  // closes between 1 and 1.25 timeouts after its last byte.
  auto every = std::min<std::chrono::milliseconds>(options_.idle_timeout / 4, std::chrono::seconds(10));
  if (every.count() < 10) every = std::chrono::milliseconds(10);
  sweep_timer_->expires_after(every);
  sweep_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || !self->sessions_.open()) return;
    const int64_t cutoff = LogLimiter::SteadyNowNs() -
                           std::chrono::duration_cast<std::chrono::nanoseconds>(self->options_.idle_timeout).count();
    self->sessions_.ForEach([cutoff](const std::shared_ptr<StreamSession>& s) {
      if (SessionLastActiveNs(*s) > cutoff) return;
      asio::post(SessionExecutor(*s), [s, cutoff] { CloseSessionIfIdle(*s, cutoff); });
    });
    self->ScheduleSweep();
  });
}

void StreamListener::Impl::Offload(std::function<void(bool)> job) {
  {
    std::lock_guard lk(control_mu_);
    if (!control_stopped_) {
      if (!control_thread_.joinable()) control_thread_ = std::thread([this] { ControlLoop(); });
      control_jobs_.push_back(std::move(job));
      control_cv_.notify_one();
      return;
    }
  }
  job(true);
}

void StreamListener::Impl::ControlLoop() {
  pthread_setname_np(pthread_self(), "sv-control");
  std::unique_lock lk(control_mu_);
  for (;;) {
    control_cv_.wait(lk, [this] { return control_stopped_ || !control_jobs_.empty(); });
    if (control_jobs_.empty()) return;  // stopped
    auto job = std::move(control_jobs_.front());
    control_jobs_.pop_front();
    const bool cancelled = control_stopped_;
    lk.unlock();
    job(cancelled);
    job = nullptr;  // drop the session it holds before waiting again
    lk.lock();
  }
}

void StreamListener::Impl::StopControlThread() {
  {
    std::lock_guard lk(control_mu_);
    control_stopped_ = true;
  }
  control_cv_.notify_all();
  if (control_thread_.joinable() && control_thread_.get_id() != std::this_thread::get_id()) control_thread_.join();
}

void StreamListener::Impl::Stop() {
  // A reload or salvage already running finishes (a reload is bounded by
  // shutdown_grace); queued ones are answered "stopping". After this the
  // control function, which uses the daemon, is never called again.
  StopControlThread();
  auto live = sessions_.Close();
  if (!live) return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    if (self->sweep_timer_) self->sweep_timer_->cancel();
  });
  for (auto& s : *live) {
    asio::post(SessionExecutor(*s), [s] { StopSessionReading(*s); });
  }
}

StreamListener::StreamListener(asio::io_context& ioc, int fd, StreamOptions options, span::Limits limits,
                               SubmitFn submit, Counters& counters, ControlFn control)
    : impl_(std::make_shared<Impl>(ioc, fd, options, limits, std::move(submit), counters, std::move(control))) {}

StreamListener::~StreamListener() { Stop(); }
void StreamListener::Start() { impl_->Start(); }
void StreamListener::Stop() { impl_->Stop(); }

}  // namespace spanvault::ipc
