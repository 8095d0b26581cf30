#include "ipc/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>

#include "common/log.h"
#include "common/log_limiter.h"
#include "common/util.h"
#include "ipc/http_policy.h"
#include "ipc/session_registry.h"

namespace spanvault::ipc {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
LogLimiter& BusyLimiter() {
  static LogLimiter limiter;
  return limiter;
}
// Request line and headers together; OTLP exporters send a handful.
constexpr uint32_t kHeaderLimit = 64u << 10;
// After refusing a body we do not read, how long and how much of it we
// still read and discard, so that the client sees the answer instead of a
// connection reset.
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr size_t kDrainBytes = 64u << 20;

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

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

class HttpSession;

class HttpListener::Impl : public std::enable_shared_from_this<HttpListener::Impl> {
 public:
  Impl(asio::io_context& ioc, int fd, HttpOptions options, span::Limits limits, SubmitFn submit, Counters& counters)
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

  // Counts a refused request, and logs it when a line is due (RefusalLog).
  void NoteRefusal(const HttpVerdict& v, const std::string& peer) {
    counters_.refused_by_policy[static_cast<size_t>(v.refusal)].fetch_add(1, std::memory_order_relaxed);
    if (auto n = refusal_log_.Note(v.refusal, std::chrono::steady_clock::now())) {
      LOG_WARN("http request refused (at most one line per reason every 10 s)", {{"reason", HttpRefusalName(v.refusal)},
                                                                                 {"status", v.status},
                                                                                 {"peer", peer},
                                                                                 {"detail", v.reason},
                                                                                 {"refused_since_last_line", *n}});
    }
  }

  void Start() { DoAccept(); }
  void Stop();

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  HttpOptions options_;
  SubmitFn submit_;
  TransportCounters& counters_;
  InflightBudget& budget_;
  IngestContext ctx_;
  HttpPolicy policy_;
  RefusalLog refusal_log_;
  SessionRegistry<HttpSession> sessions_;

 private:
  void DoAccept();
  void OnAccept(boost::system::error_code ec, tcp::socket socket);
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<HttpListener::Impl> owner)
      : stream_(std::move(socket)), owner_(std::move(owner)), opts_(owner_->options_), counters_(owner_->counters_) {
    source_.transport = span::Transport::kHttp;
    boost::system::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string() + ":" + std::to_string(peer.port());
  }

  ~HttpSession() { ReleaseBudget(); }

  void Run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::DoReadHeader, shared_from_this()));
  }

  // Runs on the session's strand: no new request is read; one being
  // received is still read and answered.
  void StopReading() {
    stopping_ = true;
    if (state_ == State::kIdle || state_ == State::kHeader) stream_.cancel();
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  enum class State { kIdle, kHeader, kBody, kStore, kWrite, kDrain, kClosed };

  void DoWaitRequest() {
    if (stopping_) return DoClose();
    parser_.reset();
    if (buffer_.size() > 0) return DoReadHeader();
    state_ = State::kIdle;
    stream_.expires_after(opts_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&HttpSession::OnWaitRequest, shared_from_this()));
  }

  void OnWaitRequest(beast::error_code ec, size_t n) {
    buffer_.commit(n);
    if (ec) return DoClose();  // idle timeout, the client closed, or Stop
    DoReadHeader();
  }

  void DoReadHeader() {
    if (stopping_ && buffer_.size() == 0) return DoClose();
    state_ = State::kHeader;
    received_ns_ = 0;
    admitted_ = false;
    verdict_ = {};
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(opts_.max_body_bytes);
    stream_.expires_after(opts_.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::OnReadHeader, shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, size_t) {
    // Content-Length over the limit: the parser stops after the header.
    if (ec == http::error::body_limit) return RefuseBody();
    if (ec) {
      if (ec == http::error::header_limit) return Refuse(431, "request header fields too large");
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
          ec == asio::error::eof || ec == asio::error::connection_reset || ec == http::error::partial_message) {
        return DoClose();
      }
      return Refuse(400, "malformed HTTP request: " + ec.message());
    }
    const auto& req = parser_->get();
    route_ = MatchRoute(Sv(req.target()));
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    received_ns_ = NowNanos();
    if (!Admit()) return;
    if (!Reserve()) return;
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      state_ = State::kBody;
      continue_ = http::response<http::empty_body>{http::status::continue_, version_};
      stream_.expires_after(opts_.body_timeout);
      return http::async_write(stream_, continue_,
                               beast::bind_front_handler(&HttpSession::OnContinue, shared_from_this()));
    }
    DoReadBody();
  }

  void OnContinue(beast::error_code ec, size_t) {
    if (ec) return DoClose();
    DoReadBody();
  }

  void DoReadBody() {
    state_ = State::kBody;
    stream_.expires_after(opts_.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnReadBody, shared_from_this()));
  }

  void OnReadBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) return RefuseBody();  // chunked, past the limit
    if (ec) return DoClose();                                // timeout, or the client went away mid-request
    Handle();
  }

  // A body over max_body_bytes is not read: 413, recorded like any refused
  // payload when it was meant for an ingest route; then the connection closes.
  void RefuseBody() {
    const auto& req = parser_->get();
    route_ = MatchRoute(Sv(req.target()));
    version_ = req.version();
    if (!admitted_ && !Admit()) return;
    if (received_ns_ == 0) received_ns_ = NowNanos();
    if ((route_ == Route::kOtlpTraces || route_ == Route::kSpans) && req.method() == http::verb::post) {
      counters_.payloads.fetch_add(1, std::memory_order_relaxed);
      keep_alive_ = false;
      // The parser refuses a Content-Length before it counts the header as
      // done, so its content_length() is not available here: read the field.
      uint64_t length = opts_.max_body_bytes + 1;
      beast::string_view cl = req[http::field::content_length];
      std::from_chars(cl.data(), cl.data() + cl.size(), length);
      return Submit(
          RefuseTooLarge(route_, Sv(req[http::field::content_type]), length, source_, received_ns_, owner_->ctx_),
          /*close=*/true);
    }
    Refuse(413, "request body too large");
  }

  // The Host/Origin policy (http_policy.h) on the request's header. A refused
  // request is answered without reading its body, and the connection closes.
  bool Admit() {
    admitted_ = true;
    ++requests_;
    const auto& req = parser_->get();
    HttpRequestMeta m;
    m.method = Sv(req.method_string());
    m.target = Sv(req.target());
    m.version = req.version();
    auto field = [&req](auto name, bool* repeated = nullptr) -> std::optional<std::string_view> {
      auto [first, last] = req.equal_range(name);
      if (first == last) return std::nullopt;
      if (repeated != nullptr) *repeated = std::next(first) != last;
      return Sv(first->value());
    };
    m.host = field(http::field::host, &m.repeated_host);
    m.origin = field(http::field::origin, &m.repeated_origin);
    m.sec_fetch_site = field(beast::string_view("Sec-Fetch-Site"));
    m.request_method = field(http::field::access_control_request_method);
    m.request_headers = Sv(req[http::field::access_control_request_headers]);
    m.private_network = beast::iequals(req["Access-Control-Request-Private-Network"], "true");
    verdict_ = DecideRequest(m, owner_->policy_);
    if (verdict_.kind != HttpVerdict::Kind::kRefuse) return true;
    owner_->NoteRefusal(verdict_, peer_);
    HttpVerdict refused = std::move(verdict_);
    verdict_ = {};
    Refuse(refused.status, std::move(refused.reason));
    return false;
  }

  // An ingest request takes its body's size (Content-Length, or the limit
  // when chunked) from the daemon's in-flight budget before the body is
  // read; when the budget is spent it gets 503 + Retry-After at once, so
  // that slow bodies cannot pile up in memory. Held until it is answered.
  bool Reserve() {
    const auto& req = parser_->get();
    if ((route_ != Route::kOtlpTraces && route_ != Route::kSpans) || req.method() != http::verb::post) return true;
    auto length = parser_->content_length();
    size_t want = length ? static_cast<size_t>(*length) : opts_.max_body_bytes;
    if (owner_->budget_.TryAcquire(want)) {
      reserved_ = want;
      return true;
    }
    owner_->budget_.CountRefusal(span::Transport::kHttp);
    counters_.payloads.fetch_add(1, std::memory_order_relaxed);
    counters_.payloads_rejected.fetch_add(1, std::memory_order_relaxed);
    counters_.rejected_by_kind[static_cast<size_t>(span::RejectKind::kBusy)].fetch_add(1, std::memory_order_relaxed);
    if (uint64_t n = BusyLimiter().Tick("http busy")) {
      LOG_WARN("http request answered 503: the in-flight budget is spent (ingest.max_inflight_bytes)",
               {{"refused", n}, {"inflight_bytes", owner_->budget_.in_use()}});
    }
    keep_alive_ = false;
    Submit(RefuseBusy(route_, Sv(req[http::field::content_type])), /*close=*/true);
    return false;
  }

  void ReleaseBudget() {
    if (reserved_ == 0) return;
    owner_->budget_.Release(reserved_);
    reserved_ = 0;
  }

  void Handle() {
    auto& req = parser_->get();
    if (verdict_.kind == HttpVerdict::Kind::kPreflight) {
      HttpAnswer a = PlainAnswer(204, "");
      a.content_type.clear();
      return Answer(std::move(a), false);
    }
    if (route_ == Route::kUnknown) return Answer(PlainAnswer(404, "not found\n"), false);
    if (Sv(req.method_string()) != RouteMethod(route_)) {
      HttpAnswer a = PlainAnswer(405, "method not allowed\n");
      allow_ = RouteMethod(route_);
      return Answer(std::move(a), false);
    }
    switch (route_) {
      case Route::kHealthz:
        return Answer(PlainAnswer(200, "ok\n"), false);
      case Route::kReadyz: {
        bool ready = !opts_.ready || opts_.ready();
        return Answer(ready ? PlainAnswer(200, "ready\n") : PlainAnswer(503, "not ready\n"), false);
      }
      case Route::kMetrics: {
        HttpAnswer a = PlainAnswer(200, opts_.metrics ? opts_.metrics() : std::string());
        a.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return Answer(std::move(a), false);
      }
      default:
        break;
    }
    counters_.payloads.fetch_add(1, std::memory_order_relaxed);
    counters_.bytes.fetch_add(req.body().size(), std::memory_order_relaxed);
    Submit(DecodeIngest(route_, Sv(req[http::field::content_type]), Sv(req[http::field::content_encoding]),
                        std::move(req.body()), source_, received_ns_, owner_->ctx_),
           false);
  }

  // Hands the request's batch to the store; answers once it is durable.
  void Submit(IngestRequest request, bool close) {
    CountRejected(request, counters_);
    state_ = State::kStore;
    close_after_ = close;
    span::Batch batch = std::move(request.batch);
    // From the body's size to the decoded batch's, until it is durable.
    if (reserved_ > 0 || !batch.empty()) {
      owner_->budget_.Acquire(batch.data.size());
      ReleaseBudget();
      reserved_ = batch.data.size();
    }
    pending_.emplace(std::move(request));
    if (batch.empty()) return OnStored(SubmitResult{});
    owner_->submit_(std::move(batch), opts_.fsync_requests, [self = shared_from_this()](const SubmitResult& r) {
      asio::post(self->stream_.get_executor(), [self, r] { self->OnStored(r); });
    });
  }

  void OnStored(const SubmitResult& r) {
    ReleaseBudget();
    counters_.spans_accepted.fetch_add(r.stored, std::memory_order_relaxed);
    if (r.refused_full > 0) {
      counters_.rejected_by_kind[static_cast<size_t>(span::RejectKind::kFull)].fetch_add(r.refused_full);
    }
    // The store logs its own failure; here at most one line per 10 s.
    if (!r.ok) {
      if (uint64_t n = BusyLimiter().Tick("not stored")) {
        LOG_ERROR("http: spans not stored", {{"error", r.error}, {"events", n}});
      }
    }
    HttpAnswer a = AnswerIngest(*pending_, r, owner_->ctx_);
    pending_.reset();
    Answer(std::move(a), close_after_);
  }

  static HttpAnswer PlainAnswer(unsigned status, std::string body) {
    HttpAnswer a;
    a.status = status;
    a.body = std::move(body);
    return a;
  }

  // An answer to a request that cannot be read further: sent, then closed.
  void Refuse(unsigned status, std::string message) {
    if (version_ == 0) version_ = 11;
    keep_alive_ = false;
    Answer(PlainAnswer(status, std::move(message) + "\n"), true);
  }

  void Answer(HttpAnswer a, bool close) {
    state_ = State::kWrite;
    res_ = {};
    res_.version(version_);
    res_.result(a.status);
    res_.set(http::field::server, "spanvault");
    res_.set("X-Content-Type-Options", "nosniff");
    if (!a.content_type.empty()) res_.set(http::field::content_type, a.content_type);
    if (a.retry_after_seconds > 0) res_.set(http::field::retry_after, std::to_string(a.retry_after_seconds));
    if (!allow_.empty()) res_.set(http::field::allow, allow_);
    allow_.clear();
    for (const auto& [name, value] : verdict_.headers) res_.set(name, value);
    verdict_.headers.clear();
    // The last request this connection serves: closed once answered (after
    // the client read the answer; a request sent behind it is discarded).
    if (requests_ >= opts_.max_requests_per_connection && keep_alive_ && !close && !stopping_) {
      keep_alive_ = false;
      close = true;
    }
    close_after_ = close;
    res_.body() = std::move(a.body);
    res_.keep_alive(keep_alive_ && !close && !stopping_);
    // 204 carries neither a body nor Content-Length (RFC 9110 §8.6).
    if (a.status != 204) res_.prepare_payload();
    stream_.expires_after(opts_.body_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return DoClose();
    if (close_after_) return DoDrain();
    if (!res_.keep_alive()) return DoClose();
    DoWaitRequest();
  }

  // The rest of a refused request is read and thrown away until the client
  // closes (it has read the answer by then), at most kDrainBytes/kDrainTime.
  void DoDrain() {
    if (state_ != State::kDrain) {
      state_ = State::kDrain;
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.expires_after(kDrainTime);
      buffer_.clear();
    }
    if (drained_ > kDrainBytes) return DoClose();
    stream_.async_read_some(buffer_.prepare(64u << 10),
                            beast::bind_front_handler(&HttpSession::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code ec, size_t n) {
    drained_ += n;
    buffer_.clear();
    if (ec) return DoClose();
    DoDrain();
  }

  void DoClose() {
    ReleaseBudget();
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    counters_.connections.fetch_sub(1);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpListener::Impl> owner_;
  size_t reserved_ = 0;  // taken from the in-flight budget for this request
  const HttpOptions& opts_;
  TransportCounters& counters_;
  span::Source source_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> res_;
  std::optional<IngestRequest> pending_;
  Route route_ = Route::kUnknown;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool stopping_ = false;
  std::string allow_;
  std::string peer_;       // "127.0.0.1:54321", for the refusal log
  size_t requests_ = 0;    // requests whose header was read on this connection
  bool admitted_ = false;  // the policy ran on the current request
  HttpVerdict verdict_;    // its outcome; headers go on its answer
  int64_t received_ns_ = 0;
  size_t drained_ = 0;
  State state_ = State::kHeader;
};

void HttpListener::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         beast::bind_front_handler(&HttpListener::Impl::OnAccept, shared_from_this()));
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
    auto session = std::make_shared<HttpSession>(std::move(socket), shared_from_this());
    sessions_.Add(session, counters_.connections.load());
    session->Run();
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
    asio::post(s->executor(), [s] { s->StopReading(); });
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
