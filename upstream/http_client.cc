// HttpClient: a pool of keep-alive HTTP/1.1 connections to one endpoint.
//
// Pieces:
//   Pool        — shared state behind a mutex: idle connections (LIFO), the
//                 number open, the FIFO of requests waiting for a connection,
//                 and the exchanges in flight (so Shutdown can abort them).
//   Connection  — one TCP (or TLS over TCP) stream on its own strand, plus the
//                 read buffer that must survive between responses.
//   Exchange    — one Post: resolve → connect → TLS handshake → write → read on
//                 the strand of the connection it was given, under one
//                 steady_timer deadline per attempt.
//
// A request that went out on a reused idle connection and failed before any
// response byte arrived is retried once on a fresh connection (on the same
// strand): the server most likely closed the idle socket, and every HTTP
// client does this. Idle connections are not watched by timers; one idle for
// more than kIdleTimeout is closed when it would next be handed out, so at
// most max_connections sockets are ever held.
#include "upstream/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "common/log.h"
#include "config/upstream_config.h"

namespace spanvault::upstream {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = net::strand<net::io_context::executor_type>;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr size_t kHeaderLimit = 64 * 1024;

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

std::string_view HttpErrorKindName(HttpErrorKind kind) {
  switch (kind) {
    case HttpErrorKind::kConnect:
      return "connect";
    case HttpErrorKind::kTimeout:
      return "timeout";
    case HttpErrorKind::kTls:
      return "tls";
    case HttpErrorKind::kNetwork:
      return "network";
    case HttpErrorKind::kProtocol:
      return "protocol";
    case HttpErrorKind::kTooLarge:
      return "too_large";
    case HttpErrorKind::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

namespace {

struct Connection {
  Connection(Strand s, ssl::context* tls_ctx) : strand(std::move(s)) {
    if (tls_ctx != nullptr) {
      tls.emplace(strand, *tls_ctx);
    } else {
      plain.emplace(strand);
    }
  }
  beast::tcp_stream& Tcp() { return plain ? *plain : tls->next_layer(); }
  // Only on the strand, or while no operation is pending.
  void Close() {
    boost::system::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().socket().close(ignored);
  }

  Strand strand;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool ready = false;  // connected (and handshaken): can carry a request
  Clock::time_point idle_since;
};

class Exchange;

struct Pool {
  net::io_context& ioc;
  HttpClientOptions options;
  std::optional<ssl::context> tls_ctx;
  std::string address;  // "host:port" for error texts
  std::atomic<uint64_t> connections_opened{0};

  std::mutex mu;
  bool shutdown = false;                                 // guarded by mu
  size_t open = 0;                                       // guarded by mu
  std::vector<std::shared_ptr<Connection>> idle;         // guarded by mu; back = most recent
  std::deque<std::shared_ptr<Exchange>> waiting;         // guarded by mu
  std::unordered_set<std::shared_ptr<Exchange>> active;  // guarded by mu

  explicit Pool(net::io_context& io) : ioc(io) {}
  std::shared_ptr<Connection> NewConnection(Strand strand) {
    return std::make_shared<Connection>(std::move(strand), tls_ctx ? &*tls_ctx : nullptr);
  }
  void Submit(const std::shared_ptr<Exchange>& ex);
  // The exchange is done with `conn`; `reuse` says whether it may carry
  // another request. Called on conn's strand.
  void Release(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, bool reuse);
  // Replaces the dead `conn` by a fresh connection on the same strand for a
  // transparent retry; nullptr after Shutdown.
  std::shared_ptr<Connection> Replace(const std::shared_ptr<Connection>& conn);
  void Shutdown();
  void StartLocked(const std::shared_ptr<Exchange>& ex, std::shared_ptr<Connection> conn, bool reused);
};

HttpOutcome Failure(HttpErrorKind kind, std::string error) {
  HttpOutcome out;
  out.error_kind = kind;
  out.error = std::move(error);
  return out;
}

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<Pool> pool, std::shared_ptr<const HttpRequest> request,
           std::function<void(HttpOutcome)> done)
      : pool_(std::move(pool)), request_(std::move(request)), done_(std::move(done)), posted_at_(Clock::now()) {}

  // Set under the pool's mutex before Start is posted to conn's strand.
  void Assign(std::shared_ptr<Connection> conn, bool reused) {
    strand_.emplace(conn->strand);
    conn_ = std::move(conn);
    reused_ = reused;
  }
  // Fixed once assigned: a retry replaces the connection on the same strand.
  const Strand& strand() const { return *strand_; }
  // Fails a request that never got a connection (Shutdown while queued).
  void FailQueued() {
    net::post(pool_->ioc,
              [self = shared_from_this()] { self->Deliver(Failure(HttpErrorKind::kShutdown, "client shut down")); });
  }

  void Start() {
    if (aborted_) return Finish(Failure(HttpErrorKind::kShutdown, "client shut down"), false);
    if (!timer_) {
      timer_.emplace(conn_->strand);
      timer_->expires_after(pool_->options.timeout);
      timer_->async_wait(beast::bind_front_handler(&Exchange::OnDeadline, shared_from_this()));
    }
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(pool_->options.max_response_bytes);
    if (conn_->ready) return DoWrite();
    DoResolve();
  }

  // Runs on the strand: makes the pending operation fail with kShutdown.
  void Abort() {
    if (finished_) return;
    aborted_ = true;
    CloseEverything();
  }

 private:
  void OnDeadline(boost::system::error_code ec) {
    if (ec || finished_) return;
    timed_out_ = true;
    CloseEverything();
  }

  void CloseEverything() {
    if (resolver_) resolver_->cancel();
    conn_->Close();
  }

  // The common check at the top of every handler: true when the attempt is
  // over (and Finish has been called).
  bool Failed(boost::system::error_code ec, HttpErrorKind kind, const std::string& what,
              const std::string& detail = {}) {
    if (aborted_) {
      Finish(Failure(HttpErrorKind::kShutdown, "client shut down"), false);
      return true;
    }
    if (timed_out_) {
      Finish(Failure(HttpErrorKind::kTimeout,
                     "timeout after " + std::to_string(pool_->options.timeout.count()) + " ms (" + phase_ + ")"),
             false);
      return true;
    }
    if (!ec) return false;
    Finish(Failure(kind, what + ": " + ec.message() + (detail.empty() ? "" : " (" + detail + ")")), false);
    return true;
  }

  void DoResolve() {
    phase_ = "resolving";
    resolver_.emplace(conn_->strand);
    resolver_->async_resolve(pool_->options.endpoint.host, pool_->options.endpoint.port,
                             beast::bind_front_handler(&Exchange::OnResolve, shared_from_this()));
  }

  void OnResolve(boost::system::error_code ec, tcp::resolver::results_type results) {
    if (Failed(ec, HttpErrorKind::kConnect, "resolve " + pool_->address)) return;
    phase_ = "connecting";
    conn_->Tcp().async_connect(results, beast::bind_front_handler(&Exchange::OnConnect, shared_from_this()));
  }

  void OnConnect(boost::system::error_code ec, const tcp::endpoint&) {
    if (Failed(ec, HttpErrorKind::kConnect, "connect " + pool_->address)) return;
    pool_->connections_opened.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    conn_->Tcp().socket().set_option(tcp::no_delay(true), ignored);
    if (!conn_->tls) {
      conn_->ready = true;
      return DoWrite();
    }
    DoHandshake();
  }

  void DoHandshake() {
    phase_ = "TLS handshake";
    const Endpoint& e = pool_->options.endpoint;
    SSL* ssl = conn_->tls->native_handle();
    bool ip = IsIpLiteral(e.host);
    // SNI is for DNS names only (RFC 6066 forbids IP literals).
    if (!ip && SSL_set_tlsext_host_name(ssl, e.host.c_str()) != 1) {
      return Finish(Failure(HttpErrorKind::kTls, "TLS with " + pool_->address + ": cannot set SNI"), false);
    }
    if (!pool_->options.tls_insecure_skip_verify) {
      // OpenSSL checks the name during chain verification: DNS names against
      // the SAN dNSNames, IP literals against the SAN iPAddresses.
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int rc = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, e.host.c_str())
                  : X509_VERIFY_PARAM_set1_host(param, e.host.c_str(), e.host.size());
      if (rc != 1) {
        return Finish(Failure(HttpErrorKind::kTls, "TLS with " + pool_->address + ": cannot set host name check"),
                      false);
      }
    }
    conn_->tls->async_handshake(ssl::stream_base::client,
                                beast::bind_front_handler(&Exchange::OnHandshake, shared_from_this()));
  }

  void OnHandshake(boost::system::error_code ec) {
    // OpenSSL errors are TLS failures; EOF or a reset mid-handshake is the
    // network's.
    HttpErrorKind kind = HttpErrorKind::kNetwork;
    std::string detail;
    if (ec && ec.category() == net::error::get_ssl_category()) {
      kind = HttpErrorKind::kTls;
      long verify = SSL_get_verify_result(conn_->tls->native_handle());
      if (verify != X509_V_OK) detail = X509_verify_cert_error_string(verify);
    }
    if (Failed(ec, kind, "TLS handshake with " + pool_->address, detail)) return;
    conn_->ready = true;
    DoWrite();
  }

  void DoWrite() {
    phase_ = "writing request";
    const Endpoint& e = pool_->options.endpoint;
    req_.emplace(http::verb::post, e.target, 11);
    for (const auto& [name, value] : request_->headers) {
      if (name.empty() || HasCrLf(name) || HasCrLf(value)) continue;
      req_->insert(name, value);
    }
    req_->erase(http::field::transfer_encoding);
    req_->set(http::field::host, e.HostHeader());
    req_->set(http::field::user_agent, pool_->options.user_agent.empty() ? std::string("spanvault/" SPANVAULT_VERSION)
                                                                         : pool_->options.user_agent);
    req_->keep_alive(true);
    req_->body() = http::span_body<const char>::value_type(request_->body.data(), request_->body.size());
    req_->content_length(request_->body.size());
    auto on_write = beast::bind_front_handler(&Exchange::OnWrite, shared_from_this());
    if (conn_->tls) {
      http::async_write(*conn_->tls, *req_, std::move(on_write));
    } else {
      http::async_write(*conn_->plain, *req_, std::move(on_write));
    }
  }

  void OnWrite(boost::system::error_code ec, size_t) {
    if (ec && MaybeRetry()) return;
    if (Failed(ec, HttpErrorKind::kNetwork, "write request to " + pool_->address)) return;
    phase_ = "reading response";
    // The header first, on its own: Beast 1.74's eager parse overwrites the
    // body_limit error of a too large Content-Length when the body arrived
    // in the same read, so the limit is only reliable on a header-only read.
    auto on_header = beast::bind_front_handler(&Exchange::OnReadHeader, shared_from_this());
    if (conn_->tls) {
      http::async_read_header(*conn_->tls, conn_->buffer, *parser_, std::move(on_header));
    } else {
      http::async_read_header(*conn_->plain, conn_->buffer, *parser_, std::move(on_header));
    }
  }

  void OnReadHeader(boost::system::error_code ec, size_t) {
    if (ec && MaybeRetry()) return;
    if (ec || timed_out_ || aborted_) return FailRead(ec);
    if (parser_->is_done()) return Complete();
    auto on_read = beast::bind_front_handler(&Exchange::OnRead, shared_from_this());
    if (conn_->tls) {
      http::async_read(*conn_->tls, conn_->buffer, *parser_, std::move(on_read));
    } else {
      http::async_read(*conn_->plain, conn_->buffer, *parser_, std::move(on_read));
    }
  }

  void OnRead(boost::system::error_code ec, size_t) {
    // A complete response counts even if the deadline fired at that moment.
    if (!ec && parser_->is_done()) return Complete();
    FailRead(ec ? ec : http::make_error_code(http::error::partial_message));
  }

  void Complete() {
    // The socket may have been closed by the deadline or Shutdown right as
    // the response completed: do not reuse it then.
    bool reuse = parser_->get().keep_alive() && !parser_->need_eof() && !timed_out_ && !aborted_;
    auto res = parser_->release();
    if (res.body().size() > pool_->options.max_response_bytes) {
      return FailRead(http::make_error_code(http::error::body_limit));
    }
    HttpOutcome out;
    out.ok = true;
    out.response.status = static_cast<int>(res.result_int());
    out.response.retry_after = std::string(res[http::field::retry_after]);
    out.response.body = std::move(res.body());
    Finish(std::move(out), reuse);
  }

  void FailRead(boost::system::error_code ec) {
    HttpErrorKind kind = HttpErrorKind::kNetwork;
    std::string what = "read response from " + pool_->address;
    if (ec == http::error::body_limit) {
      kind = HttpErrorKind::kTooLarge;
      what += " (limit " + std::to_string(pool_->options.max_response_bytes) + " bytes)";
    } else if (ec.category() == http::make_error_code(http::error::bad_version).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      kind = HttpErrorKind::kProtocol;
    }
    if (!Failed(ec, kind, what)) Finish(Failure(kind, what + ": incomplete"), false);
  }

  // A reused keep-alive connection that failed before the first response
  // byte: retry once on a fresh connection with the rest of the deadline.
  bool MaybeRetry() {
    if (!reused_ || retried_ || aborted_ || timed_out_) return false;
    if (parser_->got_some() || conn_->buffer.size() != 0) return false;
    retried_ = true;
    conn_->Close();
    auto fresh = pool_->Replace(conn_);
    if (!fresh) {
      aborted_ = true;
      return false;
    }
    conn_ = std::move(fresh);
    reused_ = false;
    Start();
    return true;
  }

  void Finish(HttpOutcome out, bool reuse) {
    if (finished_) return;
    finished_ = true;
    if (timer_) timer_->cancel();
    if (!reuse) conn_->Close();
    pool_->Release(shared_from_this(), conn_, reuse);
    Deliver(std::move(out));
  }

  void Deliver(HttpOutcome out) {
    out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - posted_at_);
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(out));
  }

  std::shared_ptr<Pool> pool_;
  std::shared_ptr<const HttpRequest> request_;
  std::function<void(HttpOutcome)> done_;
  Clock::time_point posted_at_;

  std::optional<Strand> strand_;
  std::shared_ptr<Connection> conn_;
  bool reused_ = false;
  bool retried_ = false;
  bool aborted_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
  std::string phase_ = "connecting";
  std::optional<net::steady_timer> timer_;
  std::optional<tcp::resolver> resolver_;
  std::optional<http::request<http::span_body<const char>>> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

void Pool::StartLocked(const std::shared_ptr<Exchange>& ex, std::shared_ptr<Connection> conn, bool reused) {
  active.insert(ex);
  ex->Assign(std::move(conn), reused);
  net::post(ex->strand(), [ex] { ex->Start(); });
}

void Pool::Submit(const std::shared_ptr<Exchange>& ex) {
  std::lock_guard lock(mu);
  if (shutdown) return ex->FailQueued();
  auto now = Clock::now();
  while (!idle.empty()) {
    std::shared_ptr<Connection> conn = std::move(idle.back());
    idle.pop_back();
    if (now - conn->idle_since <= kIdleTimeout) return StartLocked(ex, std::move(conn), true);
    --open;
    net::post(conn->strand, [conn] { conn->Close(); });
  }
  if (open < options.max_connections) {
    ++open;
    return StartLocked(ex, NewConnection(net::make_strand(ioc)), false);
  }
  waiting.push_back(ex);
}

void Pool::Release(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, bool reuse) {
  std::lock_guard lock(mu);
  if (active.erase(ex) == 0 || shutdown) {  // after Shutdown: the connection is dropped
    conn->Close();
    return;
  }
  if (reuse) {
    if (!waiting.empty()) {
      auto next = std::move(waiting.front());
      waiting.pop_front();
      return StartLocked(next, conn, true);
    }
    conn->idle_since = Clock::now();
    idle.push_back(conn);
    return;
  }
  if (!waiting.empty()) {
    // The slot of the closed connection goes to the next waiting request; the
    // new connection keeps the strand (each connection has one at a time).
    auto next = std::move(waiting.front());
    waiting.pop_front();
    return StartLocked(next, NewConnection(conn->strand), false);
  }
  --open;
}

std::shared_ptr<Connection> Pool::Replace(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mu);
  if (shutdown) return nullptr;
  return NewConnection(conn->strand);
}

void Pool::Shutdown() {
  std::deque<std::shared_ptr<Exchange>> queued;
  std::vector<std::shared_ptr<Connection>> idle_conns;
  std::vector<std::shared_ptr<Exchange>> running;
  {
    std::lock_guard lock(mu);
    if (shutdown) return;
    shutdown = true;
    queued.swap(waiting);
    idle_conns.swap(idle);
    open -= idle_conns.size();
    // Dropping them from `active` breaks the exchange <-> pool cycle even if
    // the io_context is stopped before the aborts run.
    running.assign(active.begin(), active.end());
    active.clear();
    // Posted under the lock so that each Abort runs after its Start.
    for (auto& ex : running) net::post(ex->strand(), [ex] { ex->Abort(); });
  }
  for (auto& ex : queued) ex->FailQueued();
  for (auto& conn : idle_conns) net::post(conn->strand, [conn] { conn->Close(); });
}

}  // namespace

struct HttpClient::Impl {
  std::shared_ptr<Pool> pool;
};

Result<std::shared_ptr<HttpClient>> HttpClient::Create(boost::asio::io_context& ioc, HttpClientOptions options) {
  const Endpoint& e = options.endpoint;
  if (e.host.empty() || e.port.empty()) return Fail(Error::Invalid("endpoint: missing host or port"));
  if (e.target.empty() || (e.target.front() != '/'))
    return Fail(Error::Invalid("endpoint: target must start with '/'"));
  if (options.max_connections == 0) return Fail(Error::Invalid("upstream: max_connections must be at least 1"));
  if (options.timeout.count() <= 0) return Fail(Error::Invalid("upstream: timeout must be positive"));
  auto pool = std::make_shared<Pool>(ioc);
  pool->address = (e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host) + ":" + e.port;
  if (e.tls) {
    ssl::context& ctx = pool->tls_ctx.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (options.tls_insecure_skip_verify) {
      ctx.set_verify_mode(ssl::verify_none, ec);
    } else {
      ctx.set_verify_mode(ssl::verify_peer, ec);
      if (!ec) {
        if (!options.tls_ca_file.empty()) {
          ctx.load_verify_file(options.tls_ca_file, ec);
          if (ec) return Fail(Error::Invalid("tls_ca_file " + options.tls_ca_file + ": " + ec.message()));
        } else {
          ctx.set_default_verify_paths(ec);
        }
      }
    }
    if (ec) return Fail(Error::Invalid("TLS context: " + ec.message()));
  }
  pool->options = std::move(options);
  return std::shared_ptr<HttpClient>(new HttpClient(std::make_unique<Impl>(Impl{std::move(pool)})));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() { impl_->pool->Shutdown(); }

void HttpClient::Post(std::shared_ptr<const HttpRequest> request, std::function<void(HttpOutcome)> done) {
  impl_->pool->Submit(std::make_shared<Exchange>(impl_->pool, std::move(request), std::move(done)));
}

void HttpClient::Shutdown() { impl_->pool->Shutdown(); }

uint64_t HttpClient::connections_opened() const {
  return impl_->pool->connections_opened.load(std::memory_order_relaxed);
}

}  // namespace spanvault::upstream
