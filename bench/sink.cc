#include "bench/sink.h"

#include <time.h>
#include <zlib.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "decode/otlp/otlp_ingest.h"

namespace spanvault::bench {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr uint64_t kMaxInflatedBytes = 1ull << 30;

int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// gunzip of `in` into `out`; "" or what is wrong.
std::string Gunzip(std::string_view in, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "inflateInit2 failed";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out.resize(std::max<size_t>(in.size() * 4, 4096));
  int rc = Z_OK;
  size_t produced = 0;
  while (rc != Z_STREAM_END) {
    if (produced == out.size()) {
      if (out.size() >= kMaxInflatedBytes) {
        inflateEnd(&zs);
        return "gunzipped body larger than 1 GiB";
      }
      out.resize(out.size() * 2);
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      std::string msg = std::string("gunzip failed: ") + (zs.msg != nullptr ? zs.msg : "error " + std::to_string(rc));
      inflateEnd(&zs);
      return msg;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && zs.avail_out > 0) {
      inflateEnd(&zs);
      return "gunzip failed: truncated gzip stream";
    }
  }
  out.resize(produced);
  inflateEnd(&zs);
  return {};
}

// Counts the spans of a body in any upstream format: `json`
// ({"spans":[...]}, each with a string span_id), OTLP protobuf (by
// Content-Type) or OTLP/JSON ({"resourceSpans":...}, decoded by the daemon's
// own OTLP reader), langfuse-ingestion ({"batch":[...]}: observation events)
// and braintrust-logs ({"events":[...]}). "" or what is wrong with it.
std::string CountSpans(std::string_view body, std::string_view content_type, uint64_t* spans) {
  if (content_type.find("protobuf") != std::string_view::npos) {
    auto r = spanvault::otlp::DecodeOtlpProto(body);
    if (!r) return "OTLP protobuf: " + r.error().message;
    *spans = r->spans.size() + r->rejected;
    return {};
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "body is not a JSON object";
  if (j.contains("resourceSpans")) {
    auto r = spanvault::otlp::DecodeOtlpJson(body);
    if (!r) return "OTLP/JSON: " + r.error().message;
    *spans = r->spans.size() + r->rejected;
    return {};
  }
  // Where the spans are, and the key that identifies each.
  const char* list = "spans";
  const char* id_key = "span_id";
  if (j.contains("batch")) {
    list = "batch";
    id_key = "id";
  } else if (j.contains("events")) {
    list = "events";
  }
  auto it = j.find(list);
  if (it == j.end() || !it->is_array()) return std::string("body has no \"") + list + "\" array";
  uint64_t n = 0;
  for (const auto& s : *it) {
    const nlohmann::json* item = &s;
    if (std::string_view(list) == "batch") {
      if (!s.is_object() || !s.contains("body")) return "an event without a body";
      if (s.value("type", "") == "trace-create") continue;
      item = &s["body"];
    }
    auto id = item->is_object() ? item->find(id_key) : item->end();
    if (!item->is_object() || id == item->end() || !id->is_string()) return "a span without a string id";
    ++n;
  }
  *spans = n;
  return {};
}

// Everything the I/O thread touches.
struct State {
  SinkOptions options;
  std::unique_ptr<net::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;

  std::atomic<uint64_t> connections{0}, requests{0}, body_bytes{0}, gzip_requests{0}, plain_requests{0};
  std::atomic<uint64_t> verified_requests{0}, verified_spans{0}, verified_raw_bytes{0}, verified_gzip_bytes{0},
      verified_gzip_raw_bytes{0}, max_batch_spans{0}, errors{0};
  std::atomic<int64_t> first_request_ns{0};
  mutable std::mutex mu;
  std::string first_error;  // guarded by mu

  void Error(const std::string& what) {
    errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lk(mu);
    if (first_error.empty()) first_error = what;
  }

  // Runs on the I/O thread for every request read completely.
  void Account(const http::request<http::string_body>& req) {
    uint64_t n = requests.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) first_request_ns.store(MonoNs());
    const std::string& body = req.body();
    body_bytes.fetch_add(body.size(), std::memory_order_relaxed);
    auto ce = req.find(http::field::content_encoding);
    bool gzip = false;
    if (ce == req.end()) {
      plain_requests.fetch_add(1, std::memory_order_relaxed);
    } else if (beast::iequals(ce->value(), "gzip")) {
      gzip = true;
      gzip_requests.fetch_add(1, std::memory_order_relaxed);
    } else {
      Error("unexpected Content-Encoding: " + std::string(ce->value()));
      return;
    }
    if (n != 0 && (options.verify_every == 0 || n % options.verify_every != 0)) return;

    std::string inflated;
    std::string_view raw = body;
    if (gzip) {
      if (std::string e = Gunzip(body, inflated); !e.empty()) {
        Error("request " + std::to_string(n + 1) + ": " + e);
        return;
      }
      raw = inflated;
    }
    uint64_t spans = 0;
    auto ct = req.find(http::field::content_type);
    std::string_view content_type = ct == req.end() ? std::string_view() : std::string_view(ct->value());
    if (std::string e = CountSpans(raw, content_type, &spans); !e.empty()) {
      Error("request " + std::to_string(n + 1) + ": " + e + " (first bytes: " + std::string(raw.substr(0, 80)) + ")");
      return;
    }
    verified_requests.fetch_add(1, std::memory_order_relaxed);
    verified_spans.fetch_add(spans, std::memory_order_relaxed);
    verified_raw_bytes.fetch_add(raw.size(), std::memory_order_relaxed);
    if (gzip) {
      verified_gzip_bytes.fetch_add(body.size(), std::memory_order_relaxed);
      verified_gzip_raw_bytes.fetch_add(raw.size(), std::memory_order_relaxed);
    }
    uint64_t prev = max_batch_spans.load();
    while (spans > prev && !max_batch_spans.compare_exchange_weak(prev, spans)) {
    }
  }
};

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, State& sink) : stream_(std::move(socket)), sink_(sink) {}

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(sink_.options.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(sink_.options.idle_timeout_s));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec == http::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::operation_aborted ||
        ec == beast::error::timeout) {
      Close();
      return;
    }
    if (ec == http::error::body_limit) {
      sink_.Error("a request body larger than " + std::to_string(sink_.options.max_body_bytes) + " bytes");
      Answer(http::status::payload_too_large, R"({"error":"body too large"})", false);
      return;
    }
    if (ec) {
      sink_.Error("bad request: " + ec.message());
      Close();
      return;
    }
    const auto& req = parser_->get();
    if (req.method() != http::verb::post) {
      sink_.Error("unexpected method " + std::string(req.method_string()));
      Answer(http::status::method_not_allowed, R"({"error":"POST only"})", req.keep_alive());
      return;
    }
    sink_.Account(req);
    Answer(http::status::ok, "{}", req.keep_alive());
  }

  void Answer(http::status status, std::string body, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(status);
    res_.set(http::field::content_type, "application/json");
    res_.keep_alive(keep_alive);
    res_.body() = std::move(body);
    res_.prepare_payload();
    stream_.expires_after(std::chrono::seconds(sink_.options.idle_timeout_s));
    http::async_write(stream_, res_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      Close();
      return;
    }
    if (!res_.keep_alive()) {
      Close();
      return;
    }
    DoRead();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  State& sink_;
};

void Accept(State& sink) {
  sink.acceptor->async_accept(net::make_strand(*sink.ioc), [&sink](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      sink.connections.fetch_add(1, std::memory_order_relaxed);
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), sink)->Run();
    }
    Accept(sink);
  });
}

}  // namespace

struct Sink::Impl : State {};

Sink::Sink(SinkOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = options; }

Sink::~Sink() { Stop(); }

std::expected<uint16_t, std::string> Sink::Start() {
  Impl& s = *impl_;
  s.ioc = std::make_unique<net::io_context>(1);
  beast::error_code ec;
  tcp::endpoint ep(net::ip::make_address_v4("127.0.0.1"), s.options.port);
  s.acceptor.emplace(*s.ioc);
  if (s.acceptor->open(ep.protocol(), ec); ec) return std::unexpected("socket: " + ec.message());
  s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (s.acceptor->bind(ep, ec); ec) {
    return std::unexpected("cannot bind 127.0.0.1:" + std::to_string(s.options.port) + ": " + ec.message());
  }
  if (s.acceptor->listen(net::socket_base::max_listen_connections, ec); ec) {
    return std::unexpected("listen: " + ec.message());
  }
  uint16_t port = s.acceptor->local_endpoint(ec).port();
  Accept(s);
  s.thread = std::thread([&s] { s.ioc->run(); });
  return port;
}

void Sink::Stop() {
  Impl& s = *impl_;
  if (!s.ioc) return;
  s.ioc->stop();
  if (s.thread.joinable()) s.thread.join();
  s.acceptor.reset();
  s.ioc.reset();  // destroys the pending handlers, hence the sessions and their sockets
}

SinkStats Sink::Stats() const {
  const Impl& s = *impl_;
  SinkStats st;
  st.connections = s.connections.load();
  st.requests = s.requests.load();
  st.body_bytes = s.body_bytes.load();
  st.gzip_requests = s.gzip_requests.load();
  st.plain_requests = s.plain_requests.load();
  st.verified_requests = s.verified_requests.load();
  st.verified_spans = s.verified_spans.load();
  st.verified_raw_bytes = s.verified_raw_bytes.load();
  st.verified_gzip_bytes = s.verified_gzip_bytes.load();
  st.verified_gzip_raw_bytes = s.verified_gzip_raw_bytes.load();
  st.max_batch_spans = s.max_batch_spans.load();
  st.errors = s.errors.load();
  st.first_request_ns = s.first_request_ns.load();
  std::lock_guard lk(s.mu);
  st.first_error = s.first_error;
  return st;
}

}  // namespace spanvault::bench
