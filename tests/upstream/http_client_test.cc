#include "upstream/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "tests/test_util.h"
#include "tests/upstream/fake_backend.h"
#include "tests/upstream/tls_cert.h"

namespace spanvault::upstream {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::FakeBackendOptions;
using testing::FakeStep;

// ---- ParseEndpoint ----

struct GoodUrl {
  std::string url;
  bool tls;
  std::string host, port, target, host_header;
};

TEST(ParseEndpointTest, AcceptsGoodUrls) {
  const std::vector<GoodUrl> cases = {
      {"http://example.com", false, "example.com", "80", "/", "example.com"},
      {"https://example.com", true, "example.com", "443", "/", "example.com"},
      {"HTTPS://Example.com:8443/v1/traces?x=1&y=2", true, "Example.com", "8443", "/v1/traces?x=1&y=2",
       "Example.com:8443"},
      {"http://127.0.0.1:4318/v1/spans", false, "127.0.0.1", "4318", "/v1/spans", "127.0.0.1:4318"},
      {"http://h:443/", false, "h", "443", "/", "h:443"},
      {"https://h:443/x", true, "h", "443", "/x", "h"},
      {"https://[::1]/x", true, "::1", "443", "/x", "[::1]"},
      {"http://[2001:db8::1]:8080", false, "2001:db8::1", "8080", "/", "[2001:db8::1]:8080"},
      {"http://h?q=1", false, "h", "80", "/?q=1", "h"},
      {"http://h/p#frag", false, "h", "80", "/p", "h"},
      {"http://h:0080/", false, "h", "80", "/", "h"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    auto e = ParseEndpoint(c.url);
    ASSERT_TRUE(e.has_value()) << e.error().message;
    EXPECT_EQ(e->tls, c.tls);
    EXPECT_EQ(e->host, c.host);
    EXPECT_EQ(e->port, c.port);
    EXPECT_EQ(e->target, c.target);
    EXPECT_EQ(e->HostHeader(), c.host_header);
  }
}

TEST(ParseEndpointTest, RejectsBadUrls) {
  const std::vector<std::string> cases = {
      "",
      "example.com",
      "ftp://example.com/",
      "http://",
      "http:///x",
      "http://:80",
      "http://h:0",
      "http://h:65536",
      "http://h:-1",
      "http://h:abc",
      "http://h:",
      "http://::1/",
      "http://[::1",
      "http://[zz]/",
      "http://[::1]x/",
      "http://user:pw@h/",
      "http://h x/",
      "unix:///tmp/s",
      "http://h/a b",
  };
  for (const auto& url : cases) {
    SCOPED_TRACE(url);
    auto e = ParseEndpoint(url);
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().code, Error::Code::kInvalidArgument);
    EXPECT_EQ(e.error().message.rfind("endpoint: ", 0), 0u) << e.error().message;
  }
}

TEST(HttpErrorKindTest, Names) {
  EXPECT_EQ(HttpErrorKindName(HttpErrorKind::kTimeout), "timeout");
  EXPECT_EQ(HttpErrorKindName(HttpErrorKind::kTooLarge), "too_large");
}

// ---- HttpClient against the fake backend ----

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() : work_(ioc_.get_executor()) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~HttpClientTest() override {
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  std::shared_ptr<HttpClient> MakeClient(const std::string& url, HttpClientOptions options = {}) {
    auto endpoint = ParseEndpoint(url);
    EXPECT_TRUE(endpoint.has_value());
    options.endpoint = *endpoint;
    auto client = HttpClient::Create(ioc_, std::move(options));
    EXPECT_TRUE(client.has_value()) << client.error().message;
    return client.value_or(nullptr);
  }

  static std::shared_ptr<const HttpRequest> Request(std::string body,
                                                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto req = std::make_shared<HttpRequest>();
    req->body = std::move(body);
    req->headers = std::move(headers);
    return req;
  }

  // Posts and waits (generously) for the outcome.
  static HttpOutcome PostAndWait(HttpClient& client, std::shared_ptr<const HttpRequest> req) {
    auto promise = std::make_shared<std::promise<HttpOutcome>>();
    auto future = promise->get_future();
    client.Post(std::move(req), [promise](HttpOutcome out) { promise->set_value(std::move(out)); });
    if (future.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "no outcome within 60 s";
      return {};
    }
    return future.get();
  }
  static HttpOutcome PostAndWait(HttpClient& client, std::string body = "{}") {
    return PostAndWait(client, Request(std::move(body)));
  }

  // Posts n requests at once and waits for every outcome; fails the test if
  // a `done` runs twice.
  static std::vector<HttpOutcome> PostMany(HttpClient& client, int n, std::chrono::seconds wait = 60s) {
    struct State {
      std::mutex mu;
      std::condition_variable cv;
      std::vector<std::optional<HttpOutcome>> outcomes;
      int left = 0;
    };
    auto state = std::make_shared<State>();
    state->outcomes.resize(n);
    state->left = n;
    for (int i = 0; i < n; ++i) {
      client.Post(Request("{}"), [state, i](HttpOutcome out) {
        std::lock_guard lock(state->mu);
        EXPECT_FALSE(state->outcomes[i].has_value()) << "done called twice for request " << i;
        state->outcomes[i] = std::move(out);
        if (--state->left == 0) state->cv.notify_all();
      });
    }
    std::unique_lock lock(state->mu);
    EXPECT_TRUE(state->cv.wait_for(lock, wait, [&] { return state->left == 0; })) << state->left << " outstanding";
    std::vector<HttpOutcome> out;
    for (auto& o : state->outcomes) out.push_back(o.value_or(HttpOutcome{}));
    return out;
  }

  // Waits for a condition that the backend's io thread makes true.
  template <class F>
  static bool Eventually(F f, std::chrono::milliseconds timeout = 10s) {
    return spanvault::testing::WaitFor(f, timeout, 5ms);
  }

  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

TEST_F(HttpClientTest, PostReturnsStatusBodyAndRetryAfter) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.status = 503, .headers = {{"Retry-After", "7"}}, .body = "busy"}});
  HttpClientOptions options;
  options.user_agent = "test-agent/1";
  auto client = MakeClient(backend.url("/v1/spans?tenant=a"), options);

  HttpOutcome out = PostAndWait(
      *client, Request(R"({"spans":[]})",
                       {{"Content-Type", "application/json"}, {"X-Test", "yes"}, {"Host", "ignored.example"}}));
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.status, 503);
  EXPECT_EQ(out.response.retry_after, "7");
  EXPECT_EQ(out.response.body, "busy");

  out = PostAndWait(*client);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.status, 200);
  EXPECT_EQ(out.response.retry_after, "");
  EXPECT_EQ(out.response.body, "{}");

  auto requests = backend.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1/spans?tenant=a");
  EXPECT_EQ(requests[0].Header("host"), "127.0.0.1:" + std::to_string(backend.port()));
  EXPECT_EQ(requests[0].Header("User-Agent"), "test-agent/1");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(requests[0].Header("X-Test"), "yes");
  EXPECT_EQ(requests[0].Header("Content-Length"), "12");
  EXPECT_EQ(requests[0].body, R"({"spans":[]})");
  EXPECT_EQ(requests[0].answered_status, 503);
}

TEST_F(HttpClientTest, DefaultUserAgentNamesTheVersion) {
  FakeBackend backend;
  backend.Start();
  auto client = MakeClient(backend.url());
  ASSERT_TRUE(PostAndWait(*client).ok);
  EXPECT_EQ(backend.requests().at(0).Header("User-Agent"), "spanvault/" SPANVAULT_VERSION);
}

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  FakeBackend backend;
  backend.Start();
  auto client = MakeClient(backend.url());
  for (int i = 0; i < 10; ++i) {
    HttpOutcome out = PostAndWait(*client);
    ASSERT_TRUE(out.ok) << out.error;
    EXPECT_EQ(out.response.status, 200);
  }
  EXPECT_EQ(backend.connections_accepted(), 1u);
  EXPECT_EQ(client->connections_opened(), 1u);
  EXPECT_EQ(backend.requests().size(), 10u);
}

TEST_F(HttpClientTest, ConnectionCloseIsNotReused) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.headers = {{"Connection", "close"}}}});
  auto client = MakeClient(backend.url());
  ASSERT_TRUE(PostAndWait(*client).ok);
  ASSERT_TRUE(PostAndWait(*client).ok);
  EXPECT_EQ(client->connections_opened(), 2u);
  EXPECT_EQ(backend.connections_accepted(), 2u);
  EXPECT_EQ(backend.requests().size(), 2u);
}

TEST_F(HttpClientTest, MaxConnectionsBoundsConcurrency) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 100ms});
  HttpClientOptions options;
  options.max_connections = 3;
  auto client = MakeClient(backend.url(), options);
  auto outcomes = PostMany(*client, 20);
  for (const auto& out : outcomes) {
    EXPECT_TRUE(out.ok) << out.error;
    EXPECT_EQ(out.response.status, 200);
  }
  EXPECT_EQ(backend.requests().size(), 20u);
  EXPECT_LE(backend.max_concurrent_connections(), 3u);
  EXPECT_LE(client->connections_opened(), 3u);
  EXPECT_GE(client->connections_opened(), 1u);
}

TEST_F(HttpClientTest, RetriesOnceWhenTheServerClosedTheIdleConnection) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.close_after_answer = true}});
  auto client = MakeClient(backend.url());
  ASSERT_TRUE(PostAndWait(*client).ok);
  ASSERT_TRUE(Eventually([&] { return backend.open_connections() == 0; }));

  HttpOutcome out = PostAndWait(*client);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.status, 200);
  EXPECT_EQ(client->connections_opened(), 2u);
  EXPECT_EQ(backend.requests().size(), 2u);
}

TEST_F(HttpClientTest, ConnectionRefusedIsConnectError) {
  FakeBackend backend;
  backend.Start();
  backend.SetDown(true);
  auto client = MakeClient(backend.url());
  HttpOutcome out = PostAndWait(*client);
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, HttpErrorKind::kConnect);
  EXPECT_NE(out.error.find("connect 127.0.0.1:" + std::to_string(backend.port()) + ": "), std::string::npos)
      << out.error;
  EXPECT_NE(out.error.find("refused"), std::string::npos) << out.error;
  EXPECT_EQ(client->connections_opened(), 0u);
}

TEST_F(HttpClientTest, SlowAnswerTimesOutWithinTheDeadline) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.delay = 5s}});
  HttpClientOptions options;
  options.timeout = 300ms;
  auto client = MakeClient(backend.url(), options);
  auto start = std::chrono::steady_clock::now();
  HttpOutcome out = PostAndWait(*client);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, HttpErrorKind::kTimeout);
  EXPECT_EQ(out.error, "timeout after 300 ms (reading response)");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2300ms);
  EXPECT_GE(out.elapsed, 300ms);
}

TEST_F(HttpClientTest, ResetIsNetworkError) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.reset = true}});
  auto client = MakeClient(backend.url());
  HttpOutcome out = PostAndWait(*client);
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, HttpErrorKind::kNetwork) << out.error;
  EXPECT_EQ(backend.requests().size(), 1u);

  // The failed connection was dropped; the next request gets a new one.
  out = PostAndWait(*client);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(HttpClientTest, CloseWithoutAnswerIsNetworkError) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.close_without_answer = true}});
  auto client = MakeClient(backend.url());
  HttpOutcome out = PostAndWait(*client);
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, HttpErrorKind::kNetwork) << out.error;
  EXPECT_EQ(backend.requests().size(), 1u);  // a fresh connection is not retried
}

TEST_F(HttpClientTest, ResponseOverTheLimitIsTooLarge) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.body = std::string(5000, 'x')}, {.body = std::string(1000, 'y')}});
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  auto client = MakeClient(backend.url(), options);
  HttpOutcome out = PostAndWait(*client);
  ASSERT_FALSE(out.ok) << out.response.status << " " << out.response.body.size();
  EXPECT_NE(out.error.find("limit 1000 bytes"), std::string::npos) << out.error;
  EXPECT_EQ(out.error_kind, HttpErrorKind::kTooLarge) << out.error;
  out = PostAndWait(*client);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.body.size(), 1000u);
}

TEST_F(HttpClientTest, ShutdownFailsQueuedAndInFlightRequestsOnce) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 20s});
  HttpClientOptions options;
  options.max_connections = 2;
  auto client = MakeClient(backend.url(), options);
  auto start = std::chrono::steady_clock::now();
  std::thread shutter([&] {
    backend.WaitForRequests(2, 30s);  // both connections busy, three requests queued
    client->Shutdown();
    client->Shutdown();  // idempotent
  });
  auto outcomes = PostMany(*client, 5);
  shutter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);  // not answered: aborted
  for (const auto& out : outcomes) {
    EXPECT_FALSE(out.ok);
    EXPECT_EQ(out.error_kind, HttpErrorKind::kShutdown) << out.error;
  }

  // After Shutdown: fails at once, but never inline (on an io thread).
  std::promise<HttpOutcome> promise;
  auto future = promise.get_future();
  auto caller = std::this_thread::get_id();
  client->Post(Request("{}"), [&](HttpOutcome out) {
    EXPECT_NE(std::this_thread::get_id(), caller);
    promise.set_value(std::move(out));
  });
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(future.get().error_kind, HttpErrorKind::kShutdown);
}

TEST_F(HttpClientTest, DestroyingTheClientFailsInFlightRequests) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 20s});
  auto client = MakeClient(backend.url());
  auto promise = std::make_shared<std::promise<HttpOutcome>>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  client->Post(Request("{}"), [promise, calls](HttpOutcome out) {
    if (calls->fetch_add(1) == 0) promise->set_value(std::move(out));
  });
  ASSERT_TRUE(backend.WaitForRequests(1, 30s));
  client.reset();
  auto future = promise->get_future();
  ASSERT_EQ(future.wait_for(15s), std::future_status::ready);
  EXPECT_EQ(future.get().error_kind, HttpErrorKind::kShutdown);
  // Every handler the client left behind has run once the io_context runs
  // out of work: no second call among them.
  work_.reset();
  for (auto& t : threads_) t.join();
  threads_.clear();
  EXPECT_EQ(calls->load(), 1);
}

TEST_F(HttpClientTest, CreateRejectsAnUnreadableCaFile) {
  auto endpoint = ParseEndpoint("https://127.0.0.1:1/");
  ASSERT_TRUE(endpoint.has_value());
  HttpClientOptions options;
  options.endpoint = *endpoint;
  options.tls_ca_file = "/nonexistent/ca.pem";
  auto client = HttpClient::Create(ioc_, options);
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code, Error::Code::kInvalidArgument);
  EXPECT_NE(client.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

// ---- HTTPS ----

class HttpsClientTest : public HttpClientTest {
 protected:
  std::unique_ptr<FakeBackend> StartTlsBackend(const testing::TestCert& cert) {
    auto backend = std::make_unique<FakeBackend>(
        FakeBackendOptions{.tls = true, .cert_pem = cert.cert_pem, .key_pem = cert.key_pem});
    backend->Start();
    return backend;
  }
  testing::TempDir dir_;
};

TEST_F(HttpsClientTest, SelfSignedCertificateIsRefusedByDefault) {
  auto backend = StartTlsBackend(testing::MakeSelfSignedCert());
  auto client = MakeClient(backend->url());
  HttpOutcome out = PostAndWait(*client);
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, HttpErrorKind::kTls) << out.error;
  EXPECT_NE(out.error.find("TLS handshake with 127.0.0.1:"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("certificate verify failed"), std::string::npos) << out.error;
  EXPECT_TRUE(backend->requests().empty());
}

TEST_F(HttpsClientTest, TrustedWithTheCaFile) {
  auto cert = testing::MakeSelfSignedCert();
  auto backend = StartTlsBackend(cert);
  HttpClientOptions options;
  options.tls_ca_file = testing::WriteFile(dir_.path(), "ca.pem", cert.cert_pem);
  auto client = MakeClient(backend->url(), options);
  for (int i = 0; i < 3; ++i) {
    HttpOutcome out = PostAndWait(*client, R"({"spans":[{"span_id":"s1"}]})");
    ASSERT_TRUE(out.ok) << out.error;
    EXPECT_EQ(out.response.status, 200);
  }
  EXPECT_EQ(client->connections_opened(), 1u);
  EXPECT_EQ(backend->received_span_ids().at("s1"), 3);

  // By DNS name (SNI + dNSName check) too.
  auto by_name = MakeClient("https://localhost:" + std::to_string(backend->port()) + "/v1/spans", options);
  HttpOutcome out = PostAndWait(*by_name);
  ASSERT_TRUE(out.ok) << out.error;
}

TEST_F(HttpsClientTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  auto backend = StartTlsBackend(testing::MakeSelfSignedCert({"other.example"}, {}, "other.example"));
  HttpClientOptions options;
  options.tls_insecure_skip_verify = true;
  auto client = MakeClient(backend->url(), options);
  HttpOutcome out = PostAndWait(*client);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.status, 200);
}

TEST_F(HttpsClientTest, NameMismatchIsRefusedEvenWithTheCaFile) {
  auto cert = testing::MakeSelfSignedCert({"other.example"}, {}, "other.example");
  auto backend = StartTlsBackend(cert);
  HttpClientOptions options;
  options.tls_ca_file = testing::WriteFile(dir_.path(), "ca.pem", cert.cert_pem);
  for (std::string host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    auto client = MakeClient("https://" + host + ":" + std::to_string(backend->port()) + "/", options);
    HttpOutcome out = PostAndWait(*client);
    ASSERT_FALSE(out.ok);
    EXPECT_EQ(out.error_kind, HttpErrorKind::kTls) << out.error;
    EXPECT_NE(out.error.find("mismatch"), std::string::npos) << out.error;
  }
  EXPECT_TRUE(backend->requests().empty());
}

// ---- The fake backend's rules ----

class FakeBackendTest : public HttpClientTest {};

TEST_F(FakeBackendTest, DecodesGzipAndRecordsSpanIds) {
  FakeBackend backend;
  backend.Start();
  auto client = MakeClient(backend.url());
  std::string json = R"({"spans":[{"span_id":"a"},{"span_id":"b"}]})";
  HttpOutcome out = PostAndWait(*client, Request(testing::Gzip(json), {{"Content-Encoding", "gzip"}}));
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.status, 200);
  ASSERT_TRUE(PostAndWait(*client, R"({"spans":[{"span_id":"a"}]})").ok);
  ASSERT_TRUE(backend.WaitForUniqueSpans(2, 10s));

  auto requests = backend.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, json);
  EXPECT_NE(requests[0].raw_body, json);
  EXPECT_EQ(requests[0].span_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(backend.received_span_ids(), (std::map<std::string, int>{{"a", 2}, {"b", 1}}));
  EXPECT_EQ(backend.unique_spans(), 2u);

  out = PostAndWait(*client, Request("not gzip", {{"Content-Encoding", "gzip"}}));
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.response.status, 400);
}

TEST_F(FakeBackendTest, AppliesBodyLimitPoisonAndAuthorization) {
  FakeBackend backend({.max_body_bytes = 100, .poison_span_ids = {"bad"}, .required_authorization = "Bearer k"});
  backend.Start();
  auto client = MakeClient(backend.url());
  auto auth = [](std::string body, std::string token = "Bearer k") {
    return Request(std::move(body), {{"Authorization", std::move(token)}});
  };

  EXPECT_EQ(PostAndWait(*client, Request("{}")).response.status, 401);
  EXPECT_EQ(PostAndWait(*client, auth("{}", "Bearer wrong")).response.status, 401);
  EXPECT_EQ(PostAndWait(*client, auth(std::string(101, ' '))).response.status, 413);
  HttpOutcome out = PostAndWait(*client, auth(R"({"spans":[{"span_id":"ok"},{"span_id":"bad"}]})"));
  EXPECT_EQ(out.response.status, 400);
  EXPECT_NE(out.response.body.find("\"bad\""), std::string::npos) << out.response.body;
  EXPECT_EQ(PostAndWait(*client, auth(R"({"spans":[{"span_id":"ok"}]})")).response.status, 200);
  EXPECT_EQ(backend.received_span_ids(), (std::map<std::string, int>{{"ok", 1}}));

  // A scripted step wins over every rule.
  backend.Script({{.status = 202}});
  EXPECT_EQ(PostAndWait(*client, Request("{}")).response.status, 202);
}

TEST_F(FakeBackendTest, GoesDownAndComesBackOnTheSamePort) {
  FakeBackend backend;
  backend.Start();
  int port = backend.port();
  auto client = MakeClient(backend.url());
  ASSERT_TRUE(PostAndWait(*client).ok);

  backend.SetDown(true);
  HttpOutcome out = PostAndWait(*client);
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error_kind, HttpErrorKind::kConnect) << out.error;

  backend.SetDown(false);
  EXPECT_EQ(backend.port(), port);
  out = PostAndWait(*client);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.response.status, 200);
  EXPECT_EQ(backend.connections_accepted(), 2u);
}

}  // namespace
}  // namespace spanvault::upstream
