// HttpClient's Exchange: one Post carried over one pooled connection —
// resolve → connect → TLS handshake (SNI, host-name check) → write → read the
// response header, then the body up to max_response_bytes — on the
// connection's strand under one steady_timer deadline per attempt, and the
// mapping of every failure to an HttpErrorKind and a readable message.
//
// A request that went out on a reused idle connection and failed before any
// response byte arrived is retried once on a fresh connection (on the same
// strand): the server most likely closed the idle socket, and every HTTP
// client does this.
#include "upstream/http_exchange.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/post.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace spanvault::upstream::detail {

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

HttpOutcome Failure(HttpErrorKind kind, std::string error) {
  HttpOutcome out;
  out.error_kind = kind;
  out.error = std::move(error);
  return out;
}

// Set under the pool's mutex before Start is posted to conn's strand.
void Exchange::Assign(std::shared_ptr<Connection> conn, bool reused) {
  strand_.emplace(conn->strand);
  conn_ = std::move(conn);
  reused_ = reused;
}

// Fails a request that never got a connection (Shutdown while queued).
void Exchange::FailQueued() {
  net::post(pool_->ioc,
            [self = shared_from_this()] { self->Deliver(Failure(HttpErrorKind::kShutdown, "client shut down")); });
}

void Exchange::Start() {
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
void Exchange::Abort() {
  if (finished_) return;
  aborted_ = true;
  CloseEverything();
}

void Exchange::OnDeadline(boost::system::error_code ec) {
  if (ec || finished_) return;
  timed_out_ = true;
  CloseEverything();
}

void Exchange::CloseEverything() {
  if (resolver_) resolver_->cancel();
  conn_->Close();
}

// The common check at the top of every handler: true when the attempt is
// over (and Finish has been called).
bool Exchange::Failed(boost::system::error_code ec, HttpErrorKind kind, const std::string& what,
                      const std::string& detail) {
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

void Exchange::DoResolve() {
  phase_ = "resolving";
  resolver_.emplace(conn_->strand);
  resolver_->async_resolve(pool_->options.endpoint.host, pool_->options.endpoint.port,
                           beast::bind_front_handler(&Exchange::OnResolve, shared_from_this()));
}

void Exchange::OnResolve(boost::system::error_code ec, tcp::resolver::results_type results) {
  if (Failed(ec, HttpErrorKind::kConnect, "resolve " + pool_->address)) return;
  phase_ = "connecting";
  conn_->Tcp().async_connect(results, beast::bind_front_handler(&Exchange::OnConnect, shared_from_this()));
}

void Exchange::OnConnect(boost::system::error_code ec, const tcp::endpoint&) {
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

void Exchange::DoHandshake() {
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
      return Finish(Failure(HttpErrorKind::kTls, "TLS with " + pool_->address + ": cannot set host name check"), false);
    }
  }
  conn_->tls->async_handshake(ssl::stream_base::client,
                              beast::bind_front_handler(&Exchange::OnHandshake, shared_from_this()));
}

void Exchange::OnHandshake(boost::system::error_code ec) {
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

void Exchange::DoWrite() {
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

void Exchange::OnWrite(boost::system::error_code ec, size_t) {
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

void Exchange::OnReadHeader(boost::system::error_code ec, size_t) {
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

void Exchange::OnRead(boost::system::error_code ec, size_t) {
  // A complete response counts even if the deadline fired at that moment.
  if (!ec && parser_->is_done()) return Complete();
  FailRead(ec ? ec : http::make_error_code(http::error::partial_message));
}

void Exchange::Complete() {
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

void Exchange::FailRead(boost::system::error_code ec) {
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
bool Exchange::MaybeRetry() {
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

void Exchange::Finish(HttpOutcome out, bool reuse) {
  if (finished_) return;
  finished_ = true;
  if (timer_) timer_->cancel();
  if (!reuse) conn_->Close();
  pool_->Release(shared_from_this(), conn_, reuse);
  Deliver(std::move(out));
}

void Exchange::Deliver(HttpOutcome out) {
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - posted_at_);
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(out));
}

}  // namespace spanvault::upstream::detail
