// The HTTP listener over real sockets, against an in-process daemon with a
// real RocksDB store in a temp dir: routes, limits, timeouts, keep-alive,
// connection limit, back-pressure from a full buffer.
#include <cstdio>
#include <map>
#include <set>

#include "protobuf/wire.h"
#include "tests/ipc/daemon_fixture.h"
#include "tests/ipc/http_test_client.h"

namespace spanvault::testing {
namespace {

using nlohmann::json;
using namespace http_test;

std::string Span(const std::string& id, const std::string& extra = "") {
  return R"({"name":"call","span_id":")" + id + R"(","type":"generation","model":"gpt-4o-mini")" + extra + "}";
}

class HttpTest : public DaemonFixture {
 protected:
  int Port() { return daemon_->http_port(); }
  json Transport() { return Status()["transports"]["http"]; }
};

TEST_F(HttpTest, SpansAsObjectArrayAndNdjson) {
  HttpClient c(Port());
  Response r = c.Post("/v1/spans", Span("o1"));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(json::parse(r.body()), json::parse(R"({"accepted":1,"rejected":0,"errors":[]})"));

  r = c.Post("/v1/spans", "[" + Span("a1") + R"(,{"name":""},)" + Span("a2") + "]", "application/json; charset=utf-8");
  EXPECT_EQ(r.result_int(), 200);
  json a = json::parse(r.body());
  EXPECT_EQ(a["accepted"], 2);
  EXPECT_EQ(a["rejected"], 1);
  ASSERT_EQ(a["errors"].size(), 1u);
  EXPECT_EQ(a["errors"][0]["index"], 1);

  // NDJSON, declared or detected from the lines.
  std::string nd =
      Span("n1") + "\n\n" + "not json\n" + Span("n2") + "\r\n" + R"({"name":"x","usage":{"input_tokens":-1}})";
  for (const char* type : {"application/x-ndjson", "application/json"}) {
    r = c.Post("/v1/spans", nd, type);
    EXPECT_EQ(r.result_int(), 200) << type;
    a = json::parse(r.body());
    EXPECT_EQ(a["accepted"], 2) << type;
    EXPECT_EQ(a["rejected"], 2) << type;
    ASSERT_EQ(a["errors"].size(), 2u);
    EXPECT_EQ(a["errors"][0]["line"], 3);
    EXPECT_EQ(a["errors"][1]["line"], 5);
  }
  // Everything refused: 400 with the reasons.
  r = c.Post("/v1/spans", R"([{"name":""},{"nope":1}])");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(json::parse(r.body())["rejected"], 2);
  // Pretty-printed JSON is one payload, not NDJSON.
  r = c.Post("/v1/spans",
             "{\n  \"name\": \"pretty\",\n  \"span_id\": \"p1\",\n  \"attributes\": {\n    \"k\": [\n      {\"a\": "
             "1}\n    ]\n  }\n}\n");
  EXPECT_EQ(json::parse(r.body())["accepted"], 1) << r.body();

  json t = Transport();
  EXPECT_EQ(t["received"], 6);
  EXPECT_EQ(t["accepted_spans"], 8);
  EXPECT_EQ(t["rejected"], 4);  // requests with anything refused
  EXPECT_EQ(t["connections_total"], 1);
  StopDaemon();
  std::multiset<std::string> ids;
  for (auto& s : StoredSpans()) {
    ids.insert(s["span_id"].get<std::string>());
    EXPECT_EQ(s["source"]["transport"], "http");
  }
  EXPECT_EQ(ids, (std::multiset<std::string>{"o1", "a1", "a2", "n1", "n1", "n2", "n2", "p1"}));
  auto q = Quarantine();
  EXPECT_EQ(q.size(), 7u);  // one per refused span or line: 1 + 2 + 2 + 2
}

TEST_F(HttpTest, GzipAndDeflateBodies) {
  HttpClient c(Port());
  Response r = c.Post("/v1/spans", Gzip("[" + Span("g1") + "," + Span("g2") + "]"), "application/json",
                      {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(json::parse(r.body())["accepted"], 2);
  // Two gzip members back to back are one body.
  r = c.Post("/v1/spans", Gzip(Span("g3") + "\n") + Gzip(Span("g4") + "\n"), "application/x-ndjson",
             {{"Content-Encoding", "GZIP"}});
  EXPECT_EQ(json::parse(r.body())["accepted"], 2) << r.body();
  r = c.Post("/v1/spans", "\x1f\x8b garbage", "application/json", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_NE(json::parse(r.body())["error"].get<std::string>().find("invalid compressed body"), std::string::npos);
  r = c.Post("/v1/spans", Span("b1"), "application/json", {{"Content-Encoding", "br"}});
  EXPECT_EQ(r.result_int(), 415);
  EXPECT_EQ(Transport()["accepted_spans"], 4);
}

TEST_F(HttpTest, RoutesMethodsAndProbes) {
  HttpClient c(Port());
  Response r = c.Get("/healthz");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "ok\n");
  r = c.Get("/readyz");
  EXPECT_EQ(r.result_int(), 200);
  r = c.Get("/metrics");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body().find("spanvault_"), std::string::npos);
  r = c.Get("/nope");
  EXPECT_EQ(r.result_int(), 404);
  r = c.Get("/v1/spans");
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r[http::field::allow], "POST");
  r = c.Post("/healthz", "x");
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r[http::field::allow], "GET");
  r = c.Get("/healthz?verbose=1");
  EXPECT_EQ(r.result_int(), 200);
  r = c.Post("/v1/spans", Span("t1"), "text/plain");
  EXPECT_EQ(r.result_int(), 415);
  r = c.Post("/v1/traces", "x", "text/plain");
  EXPECT_EQ(r.result_int(), 415);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  // Every answer kept the connection.
  EXPECT_EQ(Transport()["connections_total"], 1);
  EXPECT_EQ(Transport()["connections"], 1);
  EXPECT_EQ(Transport()["rejected_by_reason"]["schema"], 2);  // the two 415s
}

TEST_F(HttpTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient c(Port());
  for (int i = 0; i < 50; ++i) {
    Response r = c.Post("/v1/spans", Span("k" + std::to_string(i)));
    ASSERT_EQ(r.result_int(), 200);
    ASSERT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(Transport()["accepted_spans"], 50);
  EXPECT_EQ(Transport()["connections_total"], 1);
}

TEST_F(HttpTest, ExpectContinueIsHonoured) {
  int fd = RawConnect(Port());
  ASSERT_GE(fd, 0);
  std::string body = Span("c1");
  std::string head = "POST /v1/spans HTTP/1.1\r\n" + HostLine(Port()) +
                     "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).substr(0, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  n = recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).substr(0, 15), "HTTP/1.1 200 OK");
  close(fd);
}

// ExportTraceServiceRequest{resource_spans{resource{service.name}, scope_spans{spans}}}
// with a GenAI span and its parent; `bad_trace_id` adds a span whose
// trace_id is 3 bytes long.
std::string OtlpProto(bool bad_trace_id) {
  using otlp::WireWriter;
  auto kv = [](const std::string& k, const std::string& v, bool int_value = false) {
    std::string any, out;
    WireWriter a(any);
    if (int_value) {
      a.Varint(3, std::stoull(v));
    } else {
      a.Bytes(1, v);
    }
    WireWriter w(out);
    w.Bytes(1, k);
    w.Bytes(2, any);
    return out;
  };
  auto span = [&](const std::string& trace, const std::string& id, const std::string& parent, const std::string& name,
                  bool gen) {
    std::string out;
    WireWriter w(out);
    w.Bytes(1, trace);
    w.Bytes(2, id);
    if (!parent.empty()) w.Bytes(4, parent);
    w.Bytes(5, name);
    w.Varint(6, 1);
    w.Fixed64(7, 1'700'000'000'000'000'000ull);
    w.Fixed64(8, 1'700'000'001'000'000'000ull);
    if (gen) {
      w.Bytes(9, kv("gen_ai.operation.name", "chat"));
      w.Bytes(9, kv("gen_ai.request.model", "gpt-4o-mini"));
      w.Bytes(9, kv("gen_ai.usage.input_tokens", "1000", true));
      w.Bytes(9, kv("gen_ai.usage.output_tokens", "100", true));
    }
    return out;
  };
  std::string trace(16, '\x11'), root(8, '\x01'), child(8, '\x02');
  std::string scope_spans, resource, rs, body;
  WireWriter ss(scope_spans);
  ss.Bytes(2, span(trace, root, "", "agent", false));
  ss.Bytes(2, span(trace, child, root, "chat", true));
  if (bad_trace_id) ss.Bytes(2, span("abc", std::string(8, '\x03'), "", "broken", false));
  WireWriter r(resource);
  r.Bytes(1, kv("service.name", "proto-svc"));
  WireWriter w(rs);
  w.Bytes(1, resource);
  w.Bytes(2, scope_spans);
  WireWriter b(body);
  b.Bytes(1, rs);
  return body;
}

TEST_F(HttpTest, OtlpProtobufAndJsonAreStoredWithPartialSuccess) {
  HttpClient c(Port());
  Response r = c.Post("/v1/traces", OtlpProto(false), "application/x-protobuf");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "application/x-protobuf");
  EXPECT_EQ(r.body(), "");  // full success: partial_success unset
  // The Langfuse path, gzip, and a span the mapping refuses.
  r = c.Post("/api/public/otel/v1/traces", Gzip(OtlpProto(true)), "application/x-protobuf",
             {{"Content-Encoding", "gzip"}, {"Authorization", "Basic cGs6c2s="}});
  EXPECT_EQ(r.result_int(), 200);
  otlp::WireReader reader(r.body());
  otlp::WireField f;
  ASSERT_TRUE(reader.Next(f));
  ASSERT_EQ(f.number, 1u);  // partial_success
  otlp::WireReader ps(f.bytes);
  uint64_t rejected = 0;
  std::string message;
  while (ps.Next(f)) {
    if (f.number == 1) rejected = f.varint;
    if (f.number == 2) message = std::string(f.bytes);
  }
  EXPECT_EQ(rejected, 1u);
  EXPECT_NE(message.find("trace_id"), std::string::npos) << message;
  // OTLP/JSON, with a span whose trace id is not hex.
  std::string js = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)"
                   R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"json-span",)"
                   R"("startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000"},)"
                   R"({"traceId":"zz","spanId":"eee19b7ec3c1b175","name":"bad"}]}]}]})";
  r = c.Post("/v1/traces", js, "application/json; charset=utf-8");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  json a = json::parse(r.body());
  EXPECT_EQ(a["partialSuccess"]["rejectedSpans"], "1") << r.body();
  // Not an ExportTraceServiceRequest: 400 with a google.rpc.Status.
  r = c.Post("/v1/traces", "\xff\xff\xff", "application/x-protobuf");
  EXPECT_EQ(r.result_int(), 400);
  otlp::WireReader st(r.body());
  std::string status_message;
  while (st.Next(f)) {
    if (f.number == 2) status_message = std::string(f.bytes);
  }
  EXPECT_NE(status_message.find("invalid OTLP protobuf"), std::string::npos) << status_message;
  r = c.Post("/v1/traces", "{", "application/json");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_NE(json::parse(r.body())["message"].get<std::string>().find("invalid OTLP JSON"), std::string::npos);

  json t = Transport();
  EXPECT_EQ(t["received"], 5);
  EXPECT_EQ(t["accepted_spans"], 5);
  StopDaemon();
  std::map<std::string, json> by_name;
  for (auto& s : StoredSpans()) by_name[s["name"]] = s;
  ASSERT_EQ(by_name.size(), 3u);  // agent and chat twice, json-span
  const json& chat = by_name["chat"];
  EXPECT_EQ(chat["type"], "generation");
  EXPECT_EQ(chat["parent_span_id"], "0101010101010101");
  EXPECT_EQ(chat["trace_id"], "11111111111111111111111111111111");
  EXPECT_EQ(chat["service"], "proto-svc");
  EXPECT_EQ(chat["usage"]["input_tokens"], 1000);
  EXPECT_EQ(chat["cost"]["price_id"], "openai/gpt-4o-mini");
  EXPECT_EQ(chat["source"]["transport"], "http");
  EXPECT_EQ(Quarantine().size(), 4u);  // two refused spans, two undecodable bodies
}

class HttpLimitTest : public HttpTest {
  std::vector<std::string> Settings() override {
    return {"ingest.max_http_body_bytes=64KiB", "ingest.http_header_timeout=300ms", "ingest.http_idle_timeout=500ms",
            "ingest.http_max_connections=3"};
  }
};

TEST_F(HttpLimitTest, BodyOverLimitIs413) {
  HttpClient c(Port());
  std::string big = "[" + Span("big", R"(,"input":")" + std::string(70000, 'x') + "\"") + "]";
  Response r = c.Post("/v1/spans", big);
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_FALSE(r.keep_alive());  // the body was not read
  // A compression bomb (32 MiB in ~32 KiB) is refused once inflation passes
  // the limit; the body was read, so the connection stays.
  // Compressed before connecting: it can take longer than the daemon's
  // 500 ms idle timeout here, which would close the idle connection.
  std::string bomb = Gzip(std::string(32u << 20, ' '), Z_BEST_COMPRESSION);
  ASSERT_LT(bomb.size(), 64u << 10);
  HttpClient c2(Port());
  r = c2.Post("/v1/spans", bomb, "application/json", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_TRUE(r.keep_alive());
  EXPECT_EQ(c2.Get("/healthz").result_int(), 200);
  // Chunked, no Content-Length: the parser's limit.
  int fd = RawConnect(Port());
  std::string head = "POST /v1/spans HTTP/1.1\r\n" + HostLine(Port()) +
                     "Content-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  std::string chunk(32768, ' ');
  std::string framed = "8000\r\n" + chunk + "\r\n";
  std::string got;
  for (int i = 0; i < 3; ++i) {
    if (write(fd, framed.data(), framed.size()) < 0) break;
  }
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n > 0) got.assign(buf, static_cast<size_t>(n));
  EXPECT_EQ(got.substr(0, 12), "HTTP/1.1 413");
  close(fd);
  json t = Transport();
  EXPECT_EQ(t["rejected_by_reason"]["too_large"], 3);
  StopDaemon();
  EXPECT_EQ(Quarantine().size(), 3u);
}

TEST_F(HttpLimitTest, SilentAndSlowClientsAreDisconnected) {
  auto start = std::chrono::steady_clock::now();
  int silent = RawConnect(Port());
  ASSERT_GE(silent, 0);
  EXPECT_TRUE(WaitClosed(silent, std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  close(silent);
  // Sends a byte of header every 100 ms: still cut at the header timeout.
  int slow = RawConnect(Port());
  std::string head = "POST /v1/spans HTTP/1.1\r\n" + HostLine(Port());
  bool closed = false;
  for (char ch : head) {
    if (send(slow, &ch, 1, MSG_NOSIGNAL) != 1) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(closed || WaitClosed(slow, std::chrono::seconds(1)));
  close(slow);
  // Idle between requests: closed after the idle timeout.
  HttpClient c(Port());
  EXPECT_EQ(c.Get("/healthz").result_int(), 200);
  EXPECT_TRUE(WaitClosed(c.socket().native_handle(), std::chrono::seconds(3)));
  EXPECT_TRUE(WaitFor([](const json& s) { return s["transports"]["http"]["connections"] == 0; }));
}

TEST_F(HttpLimitTest, ConnectionsOverTheLimitAreClosed) {
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<HttpClient>(Port()));
    EXPECT_EQ(held.back()->Get("/healthz").result_int(), 200);
  }
  int extra = RawConnect(Port());
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(WaitClosed(extra, std::chrono::milliseconds(200)));
  close(extra);
  held.pop_back();  // a slot frees up once the server sees the close
  EXPECT_TRUE(WaitFor([](const json& s) { return s["transports"]["http"]["connections"] == 2; }));
  HttpClient again(Port());
  EXPECT_EQ(again.Get("/healthz").result_int(), 200);
}

class HttpRejectWhenFullTest : public HttpTest {
  std::vector<std::string> Settings() override { return {"buffer.max_disk_bytes=1MiB", "buffer.on_full=reject"}; }
};

TEST_F(HttpRejectWhenFullTest, FullBufferAnswers503WithRetryAfter) {
  HttpClient c(Port());
  std::string pad(900, 'p');
  int ok = 0, unavailable = 0;
  for (int round = 0; round < 6; ++round) {
    std::string body = "[";
    for (int i = 0; i < 500; ++i) {
      if (i) body += ",";
      body += Span("r" + std::to_string(round) + "-" + std::to_string(i), R"(,"input":")" + pad + "\"");
    }
    body += "]";
    Response r = c.Post("/v1/spans", body);
    if (r.result_int() == 200) {
      ++ok;
      EXPECT_EQ(json::parse(r.body())["accepted"], 500);
    } else {
      ++unavailable;
      EXPECT_EQ(r.result_int(), 503);
      EXPECT_EQ(r[http::field::retry_after], "5");
      EXPECT_NE(r.body().find("buffer is full"), std::string::npos);
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(unavailable, 0);
  EXPECT_EQ(Transport()["accepted_spans"], ok * 500);
  EXPECT_EQ(Transport()["rejected_by_reason"]["full"], unavailable * 500);
}

TEST_F(HttpTest, StopAnswersRequestsAlreadyReadAndClosesIdleOnes) {
  HttpClient idle(Port());
  EXPECT_EQ(idle.Get("/healthz").result_int(), 200);
  // A request whose body is still arriving when Stop begins is read and answered.
  int fd = RawConnect(Port());
  std::string body = Span("late");
  // Expect: 100-continue, so that the client sees when the listener has
  // read the header and waits for the body.
  std::string head =
      "POST /v1/spans HTTP/1.1\r\n" + HostLine(Port()) +
      "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  std::string interim;
  while (interim.find("\r\n\r\n") == std::string::npos) {
    char ch;
    ASSERT_EQ(recv(fd, &ch, 1, 0), 1) << "no 100 Continue; got: " << interim;
    interim += ch;
  }
  ASSERT_EQ(interim.substr(0, 12), "HTTP/1.1 100");
  std::thread stopper([&] { StopDaemon(); });
  // Stop has begun once it closed the idle connection.
  ASSERT_TRUE(WaitClosed(idle.socket().native_handle(), std::chrono::seconds(10)));
  ASSERT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  std::string got = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  EXPECT_EQ(got.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  stopper.join();
  close(fd);
  auto spans = StoredSpans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["span_id"], "late");
}

// ---------------------------------------------------------------- who may send

// Reads from `fd` until the peer closes (or `limit` passes); what was read.
std::string ReadUntilClosed(int fd, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string out;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(HttpTest, HostMustNameThisListenerOnLoopback) {
  const std::string port = std::to_string(Port());
  // DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1.
  HttpClient rebound(Port());
  Response r = rebound.Post("/v1/spans", Span("rebound"), "application/json", {{"Host", "evil.example:" + port}});
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_EQ(r[http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_NE(r.body().find("DNS rebinding"), std::string::npos) << r.body();
  EXPECT_FALSE(r.keep_alive());  // the body was not read
  HttpClient wrong_port(Port());
  r = wrong_port.Get("/metrics", {{"Host", "127.0.0.1:1"}});
  EXPECT_EQ(r.result_int(), 403);
  HttpClient no_port(Port());
  r = no_port.Get("/healthz", {{"Host", "localhost"}});
  EXPECT_EQ(r.result_int(), 403);
  // Loopback names with the port, in any case.
  HttpClient c(Port());
  for (std::string host : {"127.0.0.1:" + port, "LocalHost:" + port, "spanvault.localhost:" + port, "127.9.9.9:" + port,
                           "[::1]:" + port}) {
    r = c.Get("/healthz", {{"Host", host}});
    EXPECT_EQ(r.result_int(), 200) << host;
  }
  // HTTP/1.0 without Host is fine; HTTP/1.1 without it is not.
  int fd = RawConnect(Port());
  std::string head = "GET /healthz HTTP/1.0\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  EXPECT_EQ(ReadUntilClosed(fd).substr(0, 15), "HTTP/1.0 200 OK");
  close(fd);
  fd = RawConnect(Port());
  head = "GET /healthz HTTP/1.1\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  EXPECT_EQ(ReadUntilClosed(fd).substr(0, 12), "HTTP/1.1 400");
  close(fd);
  json t = Transport();
  EXPECT_EQ(t["refused_by_policy"], json::parse(R"({"host":4,"origin":0,"cross_site":0,"preflight":0})"));
  EXPECT_EQ(t["received"], 0);  // refused requests are not payloads
  r = c.Get("/metrics");
  EXPECT_NE(r.body().find("spanvault_http_refused_requests_total{reason=\"host\"} 4\n"), std::string::npos);
  StopDaemon();
  EXPECT_TRUE(StoredSpans().empty());
  EXPECT_TRUE(Quarantine().empty());
}

TEST_F(HttpTest, CrossSiteBrowserRequestsAreRefusedAndNothingIsStored) {
  const std::string port = std::to_string(Port());
  for (const char* origin : {"https://evil.example", "null", "http://localhost:3000"}) {
    HttpClient page(Port());
    Response r = page.Post("/v1/spans", Span("evil"), "application/json", {{"Origin", origin}});
    EXPECT_EQ(r.result_int(), 403) << origin;
    EXPECT_NE(r.body().find("Origin"), std::string::npos) << r.body();
    EXPECT_EQ(r[http::field::access_control_allow_origin], "") << origin;
  }
  // A body too large for the limit is refused by the policy first: no 413, no quarantine.
  {
    HttpClient page(Port());
    Response r = page.Post("/v1/spans", std::string((16u << 20) + 1, ' '), "application/json",
                           {{"Origin", "https://evil.example"}});
    EXPECT_EQ(r.result_int(), 403);
  }
  // A no-cors GET from another site (<img src=...>) carries no Origin.
  {
    HttpClient img(Port());
    Response r = img.Send(http::verb::get, "/metrics", "", "", {{"Sec-Fetch-Site", "cross-site"}});
    EXPECT_EQ(r.result_int(), 403);
    EXPECT_NE(r.body().find("cross-site"), std::string::npos) << r.body();
  }
  // Same origin (the daemon's own page) and clients without Origin are served.
  HttpClient c(Port());
  Response r = c.Post("/v1/spans", Span("own"), "application/json",
                      {{"Origin", "http://127.0.0.1:" + port}, {"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::access_control_allow_origin], "http://127.0.0.1:" + port);
  r = c.Post("/v1/spans", Span("curl"));
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::access_control_allow_origin], "");
  EXPECT_EQ(r[http::field::vary], "");
  EXPECT_EQ(r["X-Content-Type-Options"], "nosniff");
  json t = Transport();
  EXPECT_EQ(t["refused_by_policy"], json::parse(R"({"host":0,"origin":4,"cross_site":1,"preflight":0})"));
  StopDaemon();
  std::set<std::string> ids;
  for (auto& s : StoredSpans()) ids.insert(s["span_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"own", "curl"}));
  EXPECT_TRUE(Quarantine().empty());
}

TEST_F(HttpTest, RefusalsAreLoggedAtMostOncePerReasonWithThePeer) {
  std::string log = CaptureStderr([&] {
    for (int i = 0; i < 5; ++i) {
      HttpClient c(Port());
      EXPECT_EQ(c.Get("/healthz", {{"Host", "evil.example"}}).result_int(), 403);
    }
    HttpClient c(Port());
    EXPECT_EQ(c.Post("/v1/spans", Span("x"), "application/json", {{"Origin", "https://evil.example"}}).result_int(),
              403);
  });
  std::vector<json> lines;
  size_t start = 0;
  while (start < log.size()) {
    size_t nl = log.find('\n', start);
    if (nl == std::string::npos) nl = log.size();
    json j = json::parse(log.substr(start, nl - start), nullptr, false);
    if (j.is_object() && j.value("msg", "").starts_with("http request refused")) lines.push_back(j);
    start = nl + 1;
  }
  ASSERT_EQ(lines.size(), 2u) << log;
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["reason"], "host");
  EXPECT_EQ(lines[0]["refused_since_last_line"], 1);
  EXPECT_TRUE(lines[0]["peer"].get<std::string>().starts_with("127.0.0.1:")) << lines[0];
  EXPECT_EQ(lines[1]["reason"], "origin");
  EXPECT_EQ(Transport()["refused_by_policy"]["host"], 5);
}

class HttpCorsTest : public HttpTest {
  std::vector<std::string> Settings() override {
    return {"ingest.http_allowed_origins=http://localhost:3000, HTTPS://App.Example:443"};
  }
};

TEST_F(HttpCorsTest, AllowedOriginsPreflightThenPostAndReadTheAnswer) {
  HttpClient page(Port());
  Response r = page.Send(http::verb::options, "/v1/traces", "", "",
                         {{"Origin", "http://localhost:3000"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "content-type,x-unknown"},
                          {"Sec-Fetch-Site", "same-site"}});
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_EQ(r[http::field::access_control_allow_origin], "http://localhost:3000");
  EXPECT_EQ(r[http::field::access_control_allow_methods], "POST, GET, OPTIONS");
  EXPECT_EQ(r[http::field::access_control_allow_headers], "content-type");
  EXPECT_EQ(r[http::field::access_control_max_age], "600");
  EXPECT_EQ(r[http::field::vary], "Origin");
  EXPECT_EQ(r.count(http::field::content_length), 0u);  // 204: no Content-Length
  EXPECT_TRUE(r.body().empty());
  EXPECT_TRUE(r.keep_alive());
  // The real request, on the same connection.
  r = page.Post("/v1/spans", Span("cors"), "application/json", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::access_control_allow_origin], "http://localhost:3000");
  EXPECT_EQ(r[http::field::vary], "Origin");
  // Errors are readable too.
  r = page.Post("/v1/spans", Span("t"), "text/plain", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(r.result_int(), 415);
  EXPECT_EQ(r[http::field::access_control_allow_origin], "http://localhost:3000");
  // The configured origin was normalized: the browser sends https://app.example.
  r = page.Post("/v1/spans", Span("app"), "application/json",
                {{"Origin", "https://app.example"}, {"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r[http::field::access_control_allow_origin], "https://app.example");
  // A preflight from an origin not allowed.
  {
    HttpClient evil(Port());
    r = evil.Send(http::verb::options, "/v1/traces", "", "",
                  {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(r.result_int(), 403);
    EXPECT_EQ(r[http::field::access_control_allow_origin], "");
  }
  // OPTIONS that is no preflight: 405 as before.
  HttpClient plain(Port());
  EXPECT_EQ(plain.Send(http::verb::options, "/v1/traces", "", "").result_int(), 405);
  EXPECT_EQ(Transport()["refused_by_policy"]["preflight"], 1);
  StopDaemon();
  std::set<std::string> ids;
  for (auto& s : StoredSpans()) ids.insert(s["span_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"cors", "app"}));
}

class HttpRequestCapTest : public HttpTest {
  std::vector<std::string> Settings() override { return {"ingest.http_max_requests_per_connection=3"}; }
};

TEST_F(HttpRequestCapTest, TheLastAllowedRequestClosesTheConnection) {
  {
    HttpClient c(Port());
    for (int i = 1; i <= 3; ++i) {
      Response r = c.Post("/v1/spans", Span("k" + std::to_string(i)));
      ASSERT_EQ(r.result_int(), 200);
      EXPECT_EQ(r.keep_alive(), i < 3) << i;
    }
    EXPECT_EQ(c.Post("/v1/spans", Span("k4")).result_int(), 0);  // not served on that connection
  }
  // Pipelined: four requests at once, three answers, then the close.
  int fd = RawConnect(Port());
  std::string all;
  for (int i = 1; i <= 4; ++i) {
    std::string body = Span("p" + std::to_string(i));
    all += "POST /v1/spans HTTP/1.1\r\n" + HostLine(Port()) +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  ASSERT_EQ(write(fd, all.data(), all.size()), static_cast<ssize_t>(all.size()));
  std::string got = ReadUntilClosed(fd);
  close(fd);
  EXPECT_EQ(Count(got, "HTTP/1.1 200 OK"), 3u) << got;
  EXPECT_EQ(Count(got, "Connection: close"), 1u) << got;
  // A new connection is served.
  HttpClient again(Port());
  EXPECT_EQ(again.Post("/v1/spans", Span("k5")).result_int(), 200);
  EXPECT_EQ(Transport()["connections_total"], 3);
  StopDaemon();
  std::set<std::string> ids;
  for (auto& s : StoredSpans()) ids.insert(s["span_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"k1", "k2", "k3", "p1", "p2", "p3", "k5"}));
}

}  // namespace
}  // namespace spanvault::testing
