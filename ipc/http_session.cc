// One connection of the HTTP listener (contract: http_listener.h): reads a
// request at a time, runs the Host/Origin policy on its header, reserves its
// body in the in-flight budget, decodes ingest bodies and answers once their
// spans are durable; routes /api/... and the page to the daemon's hooks
// (http_api.h), streamed answers through HttpStreamWriter (http_stream.h).
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>

#include "common/log.h"
#include "common/log_limiter.h"
#include "common/util.h"
#include "ipc/http_api.h"
#include "ipc/http_listener_impl.h"
#include "ipc/http_stream.h"

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
}  // namespace

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
    if (auto w = writer_) w->Stop();
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  enum class State { kIdle, kHeader, kBody, kStore, kWrite, kDrain, kClosed, kStream };

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
    api_ = route_ == Route::kUnknown ? MatchApiRoute(Sv(req.target())) : ApiRoute::kNone;
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
    if (api_ != ApiRoute::kNone) return HandleApi();
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

  // GET /api/... and the page (http_api.h). Never ingest: nothing counted.
  void HandleApi() {
    const auto& req = parser_->get();
    if (req.method() != http::verb::get) {
      allow_ = "GET";
      return Answer(PlainAnswer(405, "method not allowed\n"), false);
    }
    if (api_ == ApiRoute::kAsset) return AnswerAsset();
    ApiRequest r;
    if (std::string why = ParseApiTarget(Sv(req.target()), &r); !why.empty()) {
      return Answer(ToHttp(ApiError(400, why)), false);
    }
    if (api_ != ApiRoute::kQuery) return StartStream(std::move(r));
    if (!opts_.api.query) return Answer(ToHttp(ApiError(404, "the query API is off (local.api)")), false);
    state_ = State::kStore;  // until the daemon's query threads answer
    opts_.api.query(std::move(r), [self = shared_from_this()](ApiAnswer a) {
      asio::post(self->executor(), [self, a = std::move(a)]() mutable { self->Answer(ToHttp(std::move(a)), false); });
    });
  }

  // GET / and /assets/...: the page's files, with ETag revalidation.
  void AnswerAsset() {
    const auto& req = parser_->get();
    std::string_view target = Sv(req.target());
    std::string_view path = target.substr(0, target.find('?'));
    if (path == "/index.html") path = "/";
    std::optional<Asset> asset = opts_.api.asset ? opts_.api.asset(path) : std::nullopt;
    if (!asset) return Answer(PlainAnswer(404, "not found\n"), false);
    HttpAnswer a;
    a.content_type = std::string(asset->content_type);
    extra_headers_.emplace_back("X-Frame-Options", "DENY");
    extra_headers_.emplace_back("Cache-Control", "no-cache");
    if (!asset->etag.empty()) {
      extra_headers_.emplace_back("ETag", std::string(asset->etag));
      if (Sv(req[http::field::if_none_match]) == asset->etag) {
        a.status = 304;
        return Answer(std::move(a), false);
      }
    }
    a.body = std::string(asset->body);
    Answer(std::move(a), false);
  }

  // /api/export and /api/tail: the daemon fills a channel, a writer streams it.
  void StartStream(ApiRequest r) {
    const bool tail = api_ == ApiRoute::kTail;
    if (tail ? !opts_.api.tail : !opts_.api.export_rows) {
      return Answer(ToHttp(ApiError(404, "the query API is off (local.api)")), false);
    }
    auto channel = std::make_shared<LineChannel>(kApiStreamBufferBytes);
    if (tail) {
      if (std::optional<ApiAnswer> refused = opts_.api.tail(r, channel)) return Answer(ToHttp(*refused), false);
    }
    HttpStreamWriter::Params p;
    p.kind = tail ? HttpStreamWriter::Kind::kSse : HttpStreamWriter::Kind::kNdjson;
    p.version = version_;
    p.headers = verdict_.headers;
    p.write_timeout = opts_.body_timeout;
    p.keep_alive = opts_.sse_keep_alive;
    state_ = State::kStream;
    writer_ = std::make_shared<HttpStreamWriter>(
        stream_, shared_from_this(), channel, std::move(p),
        [self = shared_from_this()](bool reusable, std::optional<ApiAnswer> refused) {
          asio::post(self->executor(), [self, reusable, refused = std::move(refused)]() mutable {
            self->OnStreamDone(reusable, std::move(refused));
          });
        });
    if (!tail) opts_.api.export_rows(std::move(r), channel);
    writer_->Start();
  }

  void OnStreamDone(bool reusable, std::optional<ApiAnswer> refused) {
    writer_.reset();
    if (refused) return Answer(ToHttp(std::move(*refused)), false);
    verdict_.headers.clear();
    if (!reusable || !keep_alive_ || stopping_ || requests_ >= opts_.max_requests_per_connection) return DoClose();
    DoWaitRequest();
  }

  static HttpAnswer ToHttp(ApiAnswer a) {
    HttpAnswer h;
    h.status = a.status;
    h.content_type = std::move(a.content_type);
    h.body = std::move(a.body);
    return h;
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
    for (const auto& [name, value] : extra_headers_) res_.set(name, value);
    extra_headers_.clear();
    // The last request this connection serves: closed once answered (after
    // the client read the answer; a request sent behind it is discarded).
    if (requests_ >= opts_.max_requests_per_connection && keep_alive_ && !close && !stopping_) {
      keep_alive_ = false;
      close = true;
    }
    close_after_ = close;
    res_.body() = std::move(a.body);
    res_.keep_alive(keep_alive_ && !close && !stopping_);
    // 204 and 304 carry no body (RFC 9110 §8.6, §15.4.5).
    if (a.status != 204 && a.status != 304) res_.prepare_payload();
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
  ApiRoute api_ = ApiRoute::kNone;                                  // an API or page request (route_ is kUnknown then)
  std::shared_ptr<HttpStreamWriter> writer_;                        // while an export or tail streams
  std::vector<std::pair<std::string, std::string>> extra_headers_;  // for the next answer
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

std::shared_ptr<HttpSession> MakeHttpSession(tcp::socket&& socket, std::shared_ptr<HttpListener::Impl> owner) {
  return std::make_shared<HttpSession>(std::move(socket), std::move(owner));
}
void RunHttpSession(HttpSession& s) { s.Run(); }
asio::any_io_executor HttpSessionExecutor(HttpSession& s) { return s.executor(); }
void StopHttpSessionReading(HttpSession& s) { s.StopReading(); }

}  // namespace spanvault::ipc
