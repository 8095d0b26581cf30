// The HTTP listener's query API routes (ipc/http_api.h) over real sockets,
// with hooks standing in for the daemon's query threads: routing, the policy
// on /api, 400 on bad query strings, chunked export with back-pressure, SSE
// framing and keep-alive, the slow-client drop, the page's files; and none of
// it counted as ingest.
#include "ipc/http_api.h"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "ipc/http_listener.h"
#include "ipc/unix_socket.h"
#include "tests/ipc/http_test_client.h"
#include "tests/test_util.h"

namespace spanvault::testing {
namespace {

using namespace http_test;
using namespace std::chrono_literals;

// An HTTP listener on 127.0.0.1:0 with `hooks`, on two I/O threads.
class ApiListener {
 public:
  explicit ApiListener(ipc::ApiHooks hooks, std::chrono::milliseconds keep_alive = 15s) {
    auto fd = ipc::BindTcpListener(ipc::HostPort{"127.0.0.1", 0}, false);
    EXPECT_TRUE(fd.has_value());
    port_ = ipc::BoundPort(*fd);
    ipc::HttpOptions o;
    o.api = std::move(hooks);
    o.sse_keep_alive = keep_alive;
    o.body_timeout = 2s;
    listener_ = std::make_unique<ipc::HttpListener>(
        ioc_, *fd, std::move(o), span::Limits{}, [](span::Batch&&, bool, ipc::SubmitDone done) { done({}); },
        counters_);
    listener_->Start();
    work_.emplace(ioc_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~ApiListener() {
    listener_->Stop();
    WaitFor([&] { return counters_[span::Transport::kHttp].connections.load() == 0; }, 5s);
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    listener_.reset();
  }
  int port() const { return port_; }
  ipc::TransportCounters& http() { return counters_[span::Transport::kHttp]; }

 private:
  boost::asio::io_context ioc_;
  ipc::Counters counters_;
  std::unique_ptr<ipc::HttpListener> listener_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

// Reads from `fd` until `done(text so far)` holds or `limit` passes.
template <typename F>
std::string ReadUntil(int fd, F done, std::chrono::milliseconds limit = 10s) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[65536];
  while (!done(got) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

void SendRaw(int fd, const std::string& s) { ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }

// A query hook answering on another thread, as the daemon's query threads do.
ipc::ApiHooks EchoHooks(std::vector<ipc::ApiRequest>* seen = nullptr) {
  ipc::ApiHooks h;
  h.query = [seen](ipc::ApiRequest r, std::function<void(ipc::ApiAnswer)> done) {
    if (seen) seen->push_back(r);
    std::thread([r, done] {
      nlohmann::json params = nlohmann::json::array();
      for (auto& [k, v] : r.params) params.push_back({k, v});
      done(ipc::ApiAnswer{r.path == "/api/missing" ? 404u : 200u, "application/json",
                          nlohmann::json({{"path", r.path}, {"params", params}}).dump()});
    }).detach();
  };
  return h;
}

TEST(HttpApiTest, QueriesGoToTheHookAndItsAnswerComesBack) {
  ApiListener l(EchoHooks());
  HttpClient c(l.port());
  Response r = c.Get("/api/traces?service=rag%20api&limit=20&q=a+b");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  auto j = nlohmann::json::parse(r.body());
  EXPECT_EQ(j["path"], "/api/traces");
  EXPECT_EQ(j["params"], nlohmann::json::parse(R"([["service","rag api"],["limit","20"],["q","a b"]])"));
  // Keep-alive: the same connection serves the next one; the status passes through.
  r = c.Get("/api/missing");
  EXPECT_EQ(r.result_int(), 404);
  r = c.Get("/api/traces/4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(nlohmann::json::parse(r.body())["path"], "/api/traces/4bf92f3577b34da6a3ce929d0e0e4736");
  // GET only; never ingest.
  r = c.Post("/api/traces", "{}");
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(l.http().payloads.load(), 0u);
  EXPECT_EQ(l.http().bytes.load(), 0u);
}

TEST(HttpApiTest, BadQueryStringsAre400WithAReason) {
  std::vector<ipc::ApiRequest> seen;
  ApiListener l(EchoHooks(&seen));
  HttpClient c(l.port());
  std::string many = "/api/traces?";
  for (int i = 0; i < 65; ++i) many += "p" + std::to_string(i) + "=1&";
  for (const std::string& target : {std::string("/api/traces?service=%zz"), std::string("/api/traces?a=%4"),
                                    std::string("/api/traces?=x"), many, "/api/traces?q=" + std::string(9000, 'a')}) {
    HttpClient one(l.port());
    Response r = one.Get(target);
    EXPECT_EQ(r.result_int(), 400) << target.substr(0, 60);
    auto j = nlohmann::json::parse(r.body(), nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body();
    EXPECT_FALSE(j["error"].get<std::string>().empty());
  }
  EXPECT_TRUE(seen.empty());  // refused before the hook
}

TEST(HttpApiTest, ApiRequestsPassTheHostAndOriginChecks) {
  std::vector<ipc::ApiRequest> seen;
  ApiListener l(EchoHooks(&seen));
  {
    HttpClient c(l.port());
    EXPECT_EQ(c.Get("/api/traces", {{"Host", "evil.example:" + std::to_string(l.port())}}).result_int(), 403);
  }
  {
    HttpClient c(l.port());
    EXPECT_EQ(c.Get("/api/traces", {{"Origin", "http://evil.example"}}).result_int(), 403);
  }
  {
    HttpClient c(l.port());
    EXPECT_EQ(c.Get("/api/export", {{"Sec-Fetch-Site", "cross-site"}}).result_int(), 403);
  }
  {
    // The listener's own origin (the page) is served.
    HttpClient c(l.port());
    EXPECT_EQ(c.Get("/api/traces", {{"Origin", "http://127.0.0.1:" + std::to_string(l.port())}}).result_int(), 200);
  }
  EXPECT_EQ(seen.size(), 1u);
}

TEST(HttpApiTest, WithoutHooksTheApiAndThePageAre404) {
  ApiListener l(ipc::ApiHooks{});
  HttpClient c(l.port());
  EXPECT_EQ(c.Get("/api/traces").result_int(), 404);
  EXPECT_EQ(c.Get("/api/export").result_int(), 404);
  EXPECT_EQ(c.Get("/api/tail").result_int(), 404);
  EXPECT_EQ(c.Get("/").result_int(), 404);
  EXPECT_EQ(c.Get("/assets/app.js").result_int(), 404);
}

TEST(HttpApiTest, ThePageIsServedFromTheAssetHookWithRevalidation) {
  static const ipc::Asset kIndex{"text/html; charset=utf-8", "<!doctype html><title>spanvault</title>", "\"v1\""};
  ipc::ApiHooks h;
  h.asset = [](std::string_view path) -> std::optional<ipc::Asset> {
    if (path == "/") return kIndex;
    return std::nullopt;
  };
  ApiListener l(std::move(h));
  HttpClient c(l.port());
  Response r = c.Get("/");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), kIndex.body);
  EXPECT_EQ(r[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(r[http::field::etag], "\"v1\"");
  EXPECT_EQ(c.Get("/", {{"If-None-Match", "\"v1\""}}).result_int(), 304);
  EXPECT_EQ(c.Get("/assets/nope.js").result_int(), 404);
}

// An export hook whose producer thread pushes `rows` rows of ~1 KiB.
ipc::ApiHooks ExportHooks(int rows, std::atomic<int>* pushed, std::atomic<bool>* stopped_early) {
  ipc::ApiHooks h;
  h.export_rows = [=](ipc::ApiRequest r, std::shared_ptr<ipc::LineChannel> out) {
    std::thread([=] {
      if (r.params.size() == 1 && r.params[0].first == "bad") return out->Finish(400, "unknown parameter \"bad\"");
      for (int i = 0; i < rows; ++i) {
        if (!out->Push(R"({"row":)" + std::to_string(i) + R"(,"pad":")" + std::string(1000, 'x') + "\"}\n")) {
          *stopped_early = true;
          return;
        }
        ++*pushed;
      }
      out->Finish();
    }).detach();
  };
  return h;
}

TEST(HttpApiTest, ExportIsChunkedNdjsonWithBackPressure) {
  std::atomic<int> pushed{0};
  std::atomic<bool> stopped{false};
  const int kRows = 30000;  // ~30 MB: more than the channel and both socket buffers hold
  ApiListener l(ExportHooks(kRows, &pushed, &stopped));
  int fd = RawConnect(l.port());
  SendRaw(fd, "GET /api/export HTTP/1.1\r\n" + HostLine(l.port()) + "\r\n");
  std::string head = ReadUntil(fd, [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head.substr(0, 300);
  EXPECT_NE(head.find("Content-Type: application/x-ndjson"), std::string::npos);
  // The client reads nothing more: the producer stalls at the bound instead
  // of queueing the whole export.
  ASSERT_TRUE(WaitFor([&] { return pushed.load() > 0; }, 10s));
  int stalled = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        int now = pushed.load();
        bool same = now == stalled;
        stalled = now;
        return same;
      },
      10s, 200ms));
  EXPECT_LT(stalled, kRows);
  close(fd);

  // Read in full by a client: every row, in order, then the end.
  pushed = 0;
  HttpClient c(l.port());
  Response r = c.Get("/api/export");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.chunked());
  size_t lines = 0, pos = 0;
  for (size_t nl; (nl = r.body().find('\n', pos)) != std::string::npos; pos = nl + 1) {
    auto j = nlohmann::json::parse(r.body().substr(pos, nl - pos));
    ASSERT_EQ(j["row"], lines);
    ++lines;
  }
  EXPECT_EQ(lines, size_t(kRows));
  // The connection is reusable; a refusal before any row is a plain 400.
  r = c.Get("/api/export?bad=1");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(nlohmann::json::parse(r.body())["error"], "unknown parameter \"bad\"");
  EXPECT_EQ(l.http().payloads.load(), 0u);
}

TEST(HttpApiTest, TailIsServerSentEventsWithKeepAliveAndEndsOnDisconnect) {
  std::shared_ptr<ipc::LineChannel> channel;
  std::atomic<int> closed{0};
  std::mutex mu;
  ipc::ApiHooks h;
  h.tail = [&](const ipc::ApiRequest& r, std::shared_ptr<ipc::LineChannel> out) -> std::optional<ipc::ApiAnswer> {
    if (!r.params.empty()) return ipc::ApiError(400, "unknown parameter");
    out->SetOnClose([&closed] { ++closed; });
    std::lock_guard lk(mu);
    channel = out;
    return std::nullopt;
  };
  ApiListener l(std::move(h), 100ms);
  {
    HttpClient c(l.port());
    EXPECT_EQ(c.Get("/api/tail?x=1").result_int(), 400);
  }
  int fd = RawConnect(l.port());
  SendRaw(fd, "GET /api/tail HTTP/1.1\r\n" + HostLine(l.port()) + "\r\n");
  std::string got = ReadUntil(fd, [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos) << got;
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(mu);
    return channel != nullptr;
  }));
  {
    std::lock_guard lk(mu);
    EXPECT_TRUE(channel->TryPush(ipc::SseEvent("span", R"({"span_id":"a1"})")));
  }
  got += ReadUntil(fd, [](const std::string& s) {
    return s.find("event: span\ndata: {\"span_id\":\"a1\"}\n\n") != std::string::npos;
  });
  EXPECT_NE(got.find("event: span\ndata: {\"span_id\":\"a1\"}\n\n"), std::string::npos) << got;
  got += ReadUntil(fd, [](const std::string& s) { return s.find(": keep-alive\n\n") != std::string::npos; });
  EXPECT_NE(got.find(": keep-alive\n\n"), std::string::npos);
  // The client goes: the subscription ends (on_close) without any event.
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return closed.load() == 1; }, 10s));
  EXPECT_EQ(l.http().payloads.load(), 0u);
}

TEST(HttpApiTest, ASlowTailClientIsDroppedNotBuffered) {
  std::shared_ptr<ipc::LineChannel> channel;
  std::mutex mu;
  ipc::ApiHooks h;
  h.tail = [&](const ipc::ApiRequest&, std::shared_ptr<ipc::LineChannel> out) -> std::optional<ipc::ApiAnswer> {
    std::lock_guard lk(mu);
    channel = out;
    return std::nullopt;
  };
  ApiListener l(std::move(h));
  int fd = RawConnect(l.port());
  SendRaw(fd, "GET /api/tail HTTP/1.1\r\n" + HostLine(l.port()) + "\r\n");
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(mu);
    return channel != nullptr;
  }));
  // The client never reads: pushing events overflows the bounded queue.
  std::string event = ipc::SseEvent("span", "{\"pad\":\"" + std::string(8000, 'x') + "\"}");
  bool dropped = WaitFor(
      [&] {
        std::lock_guard lk(mu);
        for (int i = 0; i < 64; ++i) {
          if (!channel->TryPush(event)) return true;
        }
        return false;
      },
      20s);
  EXPECT_TRUE(dropped);
  {
    std::lock_guard lk(mu);
    EXPECT_TRUE(channel->overflowed());
  }
  // The server ends the stream and closes (what the kernel still holds is
  // read and discarded here).
  EXPECT_TRUE(WaitClosed(fd, 20s));
  close(fd);
}

}  // namespace
}  // namespace spanvault::testing
