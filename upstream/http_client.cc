// HttpClient: a pool of keep-alive HTTP/1.1 connections to one endpoint.
//
// This file: endpoint parsing, the Pool (idle connections, the queue of
// requests waiting for one, Shutdown) and HttpClient itself; one request's
// Exchange is in http_exchange.cc, the pieces are described in
// http_exchange.h.
//
// Idle connections are not watched by timers; one idle for more than
// kIdleTimeout is closed when it would next be handed out, so at most
// max_connections sockets are ever held.
#include "upstream/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/post.hpp>
#include <cctype>

#include "common/log.h"
#include "upstream/http_exchange.h"
#include "upstream/upstream_config.h"

namespace spanvault::upstream {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);

bool IsDefaultPort(const Endpoint& e) { return e.port == (e.tls ? "443" : "80"); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Endpoint::HostHeader() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!IsDefaultPort(*this)) out += ":" + port;
  return out;
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  auto bad = [&](std::string why) {
    // Redacted: a URL with user info or a query can carry a key.
    return Fail(Error::Invalid("endpoint: " + why + " in \"" + RedactEndpoint(url) + "\""));
  };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("missing scheme (want http:// or https://)");
  Endpoint e;
  std::string scheme = Lower(url.substr(0, sep));
  if (scheme == "https") {
    e.tls = true;
  } else if (scheme != "http") {
    return bad("unsupported scheme \"" + scheme + "\" (want http or https)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");

  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in host");
    e.host = std::string(authority.substr(1, close - 1));
    boost::system::error_code ec;
    net::ip::make_address_v6(e.host, ec);
    if (ec) return bad("invalid IPv6 address \"" + e.host + "\"");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected characters after ']'");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return bad("IPv6 addresses must be in brackets");
    }
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (e.host.empty()) return bad("missing host");
  for (char c : e.host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '\\' || c == '"') return bad("invalid host");
  }
  if (has_port) {
    // The port is not quoted: in a malformed URL it may be part of a password.
    if (port.empty() || port.size() > 5) return bad("invalid port");
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return bad("invalid port");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return bad("port out of range (1-65535)");
    e.port = std::to_string(value);
  } else {
    e.port = e.tls ? "443" : "80";
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("invalid character in path");
  }
  e.target = target.empty() ? "/" : target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return e;
}

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
namespace detail {

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

}  // namespace detail

using detail::Exchange;
using detail::Pool;

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
