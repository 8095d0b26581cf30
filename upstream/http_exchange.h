// upstream/ (private) — the parts of HttpClient, shared by http_client.cc
// (the Pool and HttpClient itself) and http_exchange.cc (one request's
// Exchange).
//
//   Pool        — shared state behind a mutex: idle connections (LIFO), the
//                 number open, the FIFO of requests waiting for a connection,
//                 and the exchanges in flight (so Shutdown can abort them).
//   Connection  — one TCP (or TLS over TCP) stream on its own strand, plus the
//                 read buffer that must survive between responses.
//   Exchange    — one Post: resolve → connect → TLS handshake → write → read on
//                 the strand of the connection it was given, under one
//                 steady_timer deadline per attempt.
//
// Threading: Pool's members marked "guarded by mu" only under mu; a
// Connection and its Exchange only on the connection's strand, except as
// said at each member. Nothing here is used outside upstream/http_*.cc.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "upstream/http_client.h"

namespace spanvault::upstream::detail {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = net::strand<net::io_context::executor_type>;

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

// A failed outcome of `kind` with the message `error`.
HttpOutcome Failure(HttpErrorKind kind, std::string error);

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<Pool> pool, std::shared_ptr<const HttpRequest> request,
           std::function<void(HttpOutcome)> done)
      : pool_(std::move(pool)), request_(std::move(request)), done_(std::move(done)), posted_at_(Clock::now()) {}

  // Set under the pool's mutex before Start is posted to conn's strand.
  void Assign(std::shared_ptr<Connection> conn, bool reused);
  // Fixed once assigned: a retry replaces the connection on the same strand.
  const Strand& strand() const { return *strand_; }
  // Fails a request that never got a connection (Shutdown while queued).
  void FailQueued();

  // On the strand: starts (or, for a retry, restarts) the attempt.
  void Start();

  // Runs on the strand: makes the pending operation fail with kShutdown.
  void Abort();

 private:
  void OnDeadline(boost::system::error_code ec);
  void CloseEverything();
  // The common check at the top of every handler: true when the attempt is
  // over (and Finish has been called).
  bool Failed(boost::system::error_code ec, HttpErrorKind kind, const std::string& what,
              const std::string& detail = {});
  void DoResolve();
  void OnResolve(boost::system::error_code ec, tcp::resolver::results_type results);
  void OnConnect(boost::system::error_code ec, const tcp::endpoint&);
  void DoHandshake();
  void OnHandshake(boost::system::error_code ec);
  void DoWrite();
  void OnWrite(boost::system::error_code ec, size_t);
  void OnReadHeader(boost::system::error_code ec, size_t);
  void OnRead(boost::system::error_code ec, size_t);
  void Complete();
  void FailRead(boost::system::error_code ec);
  // A reused keep-alive connection that failed before the first response
  // byte: retry once on a fresh connection with the rest of the deadline.
  bool MaybeRetry();
  void Finish(HttpOutcome out, bool reuse);
  void Deliver(HttpOutcome out);

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

}  // namespace spanvault::upstream::detail
