// FakeBackend: Beast server sessions on one io thread. A Session reads a
// request, asks the backend for the step (under the mutex), waits the step's
// delay on a timer, answers, and loops while the connection stays open.
#include "tests/upstream/fake_backend.h"

#include <strings.h>
#include <zlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

namespace spanvault::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr size_t kServerBodyLimit = 64u << 20;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "FakeBackend: %s\n", what.c_str());
  std::abort();
}

std::vector<std::string> DefaultSpanIds(const FakeRequest& req) {
  std::vector<std::string> ids;
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return ids;
  auto spans = j.find("spans");
  if (spans == j.end() || !spans->is_array()) return ids;
  for (const auto& span : *spans) {
    if (!span.is_object()) continue;
    auto id = span.find("span_id");
    if (id != span.end() && id->is_string()) ids.push_back(id->get<std::string>());
  }
  return ids;
}

FakeStep JsonStep(int status, nlohmann::json body) {
  FakeStep step;
  step.status = status;
  step.headers = {{"Content-Type", "application/json"}};
  step.body = body.dump();
  return step;
}

}  // namespace

std::string FakeRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    Die("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) Die("deflate failed");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

bool Gunzip(std::string_view data, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return false;
  out->clear();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  char chunk[64 * 1024];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out->append(chunk, sizeof chunk - zs.avail_out);
    if (out->size() > 4 * kServerBodyLimit) rc = Z_DATA_ERROR;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END;
}

class Session;

struct FakeBackend::Impl {
  explicit Impl(FakeBackendOptions o) : options(std::move(o)) {
    if (!options.extract_span_ids) options.extract_span_ids = DefaultSpanIds;
    default_step = JsonStep(200, nlohmann::json::object());
  }

  // Picks the answer and records the request; returns its index.
  size_t Arrive(FakeRequest req, FakeStep* step, bool gzip_ok);
  void Answered(size_t index, int status);
  void DoAccept();
  void Listen();
  void CloseAll();
  void RunOnIo(std::function<void()> f);

  FakeBackendOptions options;

  // Declared before ioc: sessions destroyed with the io_context touch these.
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::deque<FakeStep> script;
  FakeStep default_step;
  std::vector<FakeRequest> requests;
  std::map<std::string, int> received;
  uint64_t accepted = 0;
  size_t open = 0;
  size_t max_open = 0;
  std::map<uint64_t, std::weak_ptr<Session>> sessions;
  uint64_t next_session = 0;

  std::optional<ssl::context> tls_ctx;
  net::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;  // only on the io thread once started
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  int port = 0;
  bool started = false;
  bool stopped = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(FakeBackend::Impl* backend, uint64_t id, tcp::socket socket)
      : backend_(backend), id_(id), timer_(socket.get_executor()) {
    if (backend_->tls_ctx) {
      tls_.emplace(std::move(socket), *backend_->tls_ctx);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  ~Session() {
    std::lock_guard lock(backend_->mu);
    backend_->sessions.erase(id_);
    --backend_->open;
  }

  void Run() {
    net::dispatch(timer_.get_executor(), [self = shared_from_this()] {
      if (!self->tls_) return self->DoRead();
      self->tls_->async_handshake(ssl::stream_base::server,
                                  beast::bind_front_handler(&Session::OnHandshake, self->shared_from_this()));
    });
  }

  // On the io thread (the only one).
  void Close() {
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    Tcp().socket().close(ignored);
  }

 private:
  beast::tcp_stream& Tcp() { return plain_ ? *plain_ : tls_->next_layer(); }

  template <class F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  void OnHandshake(boost::system::error_code ec) {
    if (ec || closed_) return;
    DoRead();
  }

  void DoRead() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(kServerBodyLimit);
    WithStream([&](auto& stream) {
      http::async_read(stream, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
    });
  }

  void OnRead(boost::system::error_code ec, size_t) {
    if (ec || closed_) return;  // the session ends; the destructor closes the socket
    auto msg = parser_->release();
    FakeRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& field : msg)
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    req.raw_body = std::move(msg.body());
    req.arrived = std::chrono::steady_clock::now();
    bool gzip_ok = true;
    if (strcasecmp(req.Header("Content-Encoding").c_str(), "gzip") == 0) {
      gzip_ok = Gunzip(req.raw_body, &req.body);
    } else {
      req.body = req.raw_body;
    }
    req_keep_alive_ = msg.keep_alive();
    index_ = backend_->Arrive(std::move(req), &step_, gzip_ok);
    if (step_.delay.count() > 0) {
      timer_.expires_after(step_.delay);
      timer_.async_wait(beast::bind_front_handler(&Session::OnDelay, shared_from_this()));
      return;
    }
    Answer();
  }

  void OnDelay(boost::system::error_code ec) {
    if (ec || closed_) return;
    Answer();
  }

  void Answer() {
    if (step_.close_without_answer) {
      backend_->Answered(index_, 0);
      return Close();
    }
    if (step_.reset) {
      backend_->Answered(index_, 0);
      raw_ =
          "HTTP/1.1 " + std::to_string(step_.status) + " OK\r\nContent-Type: application/json\r\nContent-Length: 100";
      WithStream([&](auto& stream) {
        net::async_write(stream, net::buffer(raw_), beast::bind_front_handler(&Session::OnPartial, shared_from_this()));
      });
      return;
    }
    res_.emplace(static_cast<http::status>(step_.status), 11);
    res_->keep_alive(req_keep_alive_);
    for (const auto& [k, v] : step_.headers) res_->set(k, v);
    res_->body() = step_.body;
    res_->prepare_payload();
    backend_->Answered(index_, step_.status);
    WithStream([&](auto& stream) {
      http::async_write(stream, *res_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
    });
  }

  void OnPartial(boost::system::error_code, size_t) {
    boost::system::error_code ignored;
    Tcp().socket().set_option(net::socket_base::linger(true, 0), ignored);
    Close();
  }

  void OnWrite(boost::system::error_code ec, size_t) {
    if (ec || closed_) return;
    if (!res_->keep_alive() || step_.close_after_answer) {
      boost::system::error_code ignored;
      Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
      return Close();
    }
    DoRead();
  }

  FakeBackend::Impl* backend_;
  uint64_t id_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::string raw_;
  FakeStep step_;
  size_t index_ = 0;
  bool req_keep_alive_ = true;
  bool closed_ = false;
};

size_t FakeBackend::Impl::Arrive(FakeRequest req, FakeStep* step, bool gzip_ok) {
  req.span_ids = options.extract_span_ids(req);
  std::lock_guard lock(mu);
  std::optional<FakeStep> answer;
  if (!script.empty()) {
    *step = std::move(script.front());
    script.pop_front();
  } else if (options.respond && gzip_ok && (answer = options.respond(req))) {
    *step = std::move(*answer);
  } else if (!options.required_authorization.empty() && req.Header("Authorization") != options.required_authorization) {
    *step = JsonStep(401, {{"error", "unauthorized"}});
  } else if (!gzip_ok) {
    *step = JsonStep(400, {{"error", "bad gzip body"}});
  } else if (options.max_body_bytes > 0 && req.body.size() > options.max_body_bytes) {
    *step = JsonStep(413, {{"error", "body too large"}});
  } else {
    *step = default_step;
    for (const auto& id : req.span_ids) {
      if (options.poison_span_ids.count(id) != 0) {
        *step = JsonStep(400, {{"error", "poison span"}, {"span_id", id}});
        break;
      }
    }
  }
  requests.push_back(std::move(req));
  cv.notify_all();
  return requests.size() - 1;
}

void FakeBackend::Impl::Answered(size_t index, int status) {
  std::lock_guard lock(mu);
  FakeRequest& req = requests[index];
  req.answered_status = status;
  if (status >= 200 && status < 300) {
    for (const auto& id : req.span_ids) ++received[id];
  }
  cv.notify_all();
}

void FakeBackend::Impl::Listen() {
  boost::system::error_code ec;
  acceptor.emplace(ioc);
  tcp::endpoint ep(net::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port));
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) Die("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + ec.message());
  port = acceptor->local_endpoint().port();
}

void FakeBackend::Impl::DoAccept() {
  acceptor->async_accept(net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor->is_open()) return;  // SetDown or Stop
    if (!ec) {
      std::shared_ptr<Session> session;
      {
        std::lock_guard lock(mu);
        ++accepted;
        max_open = std::max(max_open, ++open);
        uint64_t id = next_session++;
        session = std::make_shared<Session>(this, id, std::move(socket));
        sessions[id] = session;
      }
      session->Run();
    }
    DoAccept();
  });
}

void FakeBackend::Impl::CloseAll() {
  boost::system::error_code ignored;
  if (acceptor) acceptor->close(ignored);
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu);
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Close();
}

void FakeBackend::Impl::RunOnIo(std::function<void()> f) {
  std::promise<void> done;
  net::post(ioc, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

FakeBackend::FakeBackend(FakeBackendOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

FakeBackend::~FakeBackend() { Stop(); }

void FakeBackend::Start() {
  Impl& d = *impl_;
  if (d.started) Die("Start called twice");
  d.started = true;
  if (d.options.tls) {
    d.tls_ctx.emplace(ssl::context::tls_server);
    boost::system::error_code ec;
    d.tls_ctx->use_certificate_chain(net::buffer(d.options.cert_pem), ec);
    if (!ec) d.tls_ctx->use_private_key(net::buffer(d.options.key_pem), ssl::context::pem, ec);
    if (ec) Die("TLS certificate or key: " + ec.message());
  }
  d.Listen();
  d.DoAccept();
  d.work.emplace(d.ioc.get_executor());
  d.thread = std::thread([&d] { d.ioc.run(); });
}

int FakeBackend::port() const { return impl_->port; }

std::string FakeBackend::url(std::string_view target) const {
  return std::string(impl_->options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port) +
         std::string(target);
}

void FakeBackend::Script(std::vector<FakeStep> steps) {
  std::lock_guard lock(impl_->mu);
  for (auto& s : steps) impl_->script.push_back(std::move(s));
}

void FakeBackend::SetDefault(FakeStep step) {
  std::lock_guard lock(impl_->mu);
  impl_->default_step = std::move(step);
}

void FakeBackend::SetDown(bool down) {
  Impl& d = *impl_;
  d.RunOnIo([&d, down] {
    if (down) return d.CloseAll();
    if (d.acceptor && d.acceptor->is_open()) return;
    d.Listen();
    d.DoAccept();
  });
}

std::vector<FakeRequest> FakeBackend::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

std::map<std::string, int> FakeBackend::received_span_ids() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received;
}

size_t FakeBackend::unique_spans() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received.size();
}

bool FakeBackend::WaitForUniqueSpans(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->received.size() >= n; });
}

bool FakeBackend::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->requests.size() >= n; });
}

uint64_t FakeBackend::connections_accepted() const {
  std::lock_guard lock(impl_->mu);
  return impl_->accepted;
}

size_t FakeBackend::open_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open;
}

size_t FakeBackend::max_concurrent_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->max_open;
}

void FakeBackend::Stop() {
  Impl& d = *impl_;
  if (!d.started || d.stopped) return;
  d.stopped = true;
  d.RunOnIo([&d] { d.CloseAll(); });
  d.work.reset();
  d.ioc.stop();
  d.thread.join();
}

}  // namespace spanvault::testing
