// The HTTP listener (contract: http_listener.h): accepting connections within
// the cap, stopping, and binding the socket. Each connection is an
// HttpSession (http_session.cc).
#include "ipc/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "ipc/http_listener_impl.h"

namespace spanvault::ipc {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Whether a bound address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x).
bool BoundToLoopback(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in&>(ss).sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  }
  return false;
}

uint16_t BoundPortOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}
}  // namespace

HttpListener::Impl::Impl(asio::io_context& ioc, int fd, HttpOptions options, span::Limits limits, SubmitFn submit,
                         Counters& counters)
    : ioc_(ioc),
      acceptor_(asio::make_strand(ioc)),
      options_(std::move(options)),
      submit_(std::move(submit)),
      counters_(counters[span::Transport::kHttp]),
      budget_(counters.budget) {
  boost::system::error_code ec;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  acceptor_.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) LOG_ERROR("http listener: cannot adopt the socket", {{"error", ec.message()}});
  ctx_.limits = limits;
  ctx_.otlp = &options_.otlp;
  ctx_.max_body_bytes = options_.max_body_bytes;
  ctx_.max_span_bytes = options_.max_span_bytes;
  ctx_.max_errors = options_.max_errors_per_answer;
  ctx_.retry_after_seconds = options_.retry_after_seconds;
  policy_.check_host = BoundToLoopback(ss);
  policy_.port = BoundPortOf(ss);
  for (const std::string& o : options_.allowed_origins) {
    auto normalized = NormalizeOrigin(o);
    if (normalized) {
      policy_.allowed_origins.push_back(std::move(*normalized));
    } else {
      LOG_ERROR("http listener: allowed origin ignored", {{"error", normalized.error().message}});
    }
  }
  if (options_.max_requests_per_connection == 0) options_.max_requests_per_connection = 1;
}

void HttpListener::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
                           self->OnAccept(ec, std::move(socket));
                         });
}

void HttpListener::Impl::OnAccept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (!sessions_.open()) return;
  if (ec) {
    // Out of file descriptors (or another transient error): pause instead of
    // spinning on a listening socket that stays readable.
    LOG_WARN("http accept failed; retrying in 100 ms", {{"error", ec.message()}});
    auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(100));
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) { self->DoAccept(); });
    return;
  }
  if (counters_.connections.load() >= options_.max_connections) {
    LOG_WARN("http connection refused: connection limit reached", {{"max_connections", options_.max_connections}});
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    counters_.connections.fetch_add(1);
    counters_.connections_total.fetch_add(1);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = MakeHttpSession(std::move(socket), shared_from_this());
    sessions_.Add(session, counters_.connections.load());
    RunHttpSession(*session);
  }
  DoAccept();
}

void HttpListener::Impl::Stop() {
  auto live = sessions_.Close();
  if (!live) return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
  });
  for (auto& s : *live) {
    asio::post(HttpSessionExecutor(*s), [s] { StopHttpSessionReading(*s); });
  }
}

HttpListener::HttpListener(asio::io_context& ioc, int fd, HttpOptions options, span::Limits limits, SubmitFn submit,
                           Counters& counters)
    : impl_(std::make_shared<Impl>(ioc, fd, std::move(options), limits, std::move(submit), counters)) {}

HttpListener::~HttpListener() { Stop(); }
void HttpListener::Start() { impl_->Start(); }
void HttpListener::Stop() { impl_->Stop(); }

Result<int> BindTcpListener(const HostPort& hp, bool allow_remote, int backlog) {
  std::string where = hp.host + ":" + std::to_string(hp.port);
  auto addr = ResolveListenAddress(hp, allow_remote, "HTTP");
  if (!addr) return Fail(addr.error());
  const sockaddr_storage& ss = addr->storage;
  const socklen_t len = addr->len;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(Error::Io(std::string("socket: ") + std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || listen(fd, backlog) != 0) {
    std::string e = "bind HTTP " + where + ": " + std::strerror(errno);
    close(fd);
    return Fail(Error::Io(e));
  }
  return fd;
}

}  // namespace spanvault::ipc
