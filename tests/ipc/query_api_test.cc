// The local query API through a real in-process daemon (daemon/query.h):
// HTTP /api/... and the stream socket's $query, $export, $tail and $replay.

#include <sstream>

#include "tests/ipc/daemon_fixture.h"
#include "tests/ipc/http_test_client.h"

namespace spanvault::testing {
namespace {

using nlohmann::json;
using namespace http_test;
using namespace std::chrono_literals;

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string Span(const std::string& id, const std::string& parent = "") {
  json s = {{"trace_id", kTrace},
            {"span_id", id},
            {"name", "rag-answer-" + id},
            {"type", "generation"},
            {"model", "gpt-4o-mini"},
            {"service", "rag-api"},
            {"start_time", "2026-12-07T10:00:00Z"},
            {"end_time", "2026-12-07T10:00:01Z"}};
  if (!parent.empty()) s["parent_span_id"] = parent;
  return s.dump();
}

class QueryApiTest : public DaemonFixture {
 protected:
  int Port() { return daemon_->http_port(); }

  // One control line; its answer line.
  json Line(cli::StreamClient& c, const json& line) {
    EXPECT_TRUE(c.Write(line.dump() + "\n").has_value());
    auto got = c.ReadLine(std::chrono::seconds(30));
    EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
    return got ? json::parse(*got, nullptr, false) : json();
  }
};

TEST_F(QueryApiTest, ApiAnswersAreJsonFromTheQueryThreads) {
  HttpClient c(Port());
  Response r = c.Get("/api/traces?limit=5");
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_TRUE(json::parse(r.body(), nullptr, false).is_object()) << r.body();
  EXPECT_EQ(c.Get("/api/traces?x=%G0").result_int(), 400);
  // Not ingest.
  EXPECT_EQ(Status()["transports"]["http"]["received"], 0);
  EXPECT_EQ(Status()["transports"]["http"]["received_bytes"], 0);
}

TEST_F(QueryApiTest, SpansSentAreListedAndReadAsATree) {
  HttpClient c(Port());
  ASSERT_EQ(
      c.Post("/v1/spans", "[" + Span("00f067aa0ba902b7") + "," + Span("a1a1a1a1a1a1a1a1", "00f067aa0ba902b7") + "]")
          .result_int(),
      200);
  Response r = c.Get("/api/traces");
  EXPECT_EQ(r.result_int(), 200) << r.body();
  ASSERT_TRUE(testing::WaitFor([&] {
    Response l = c.Get("/api/traces?service=rag-api");
    if (l.result_int() != 200) return false;
    json j = json::parse(l.body());
    return j["traces"].size() == 1 && j["traces"][0]["trace_id"] == kTrace && j["traces"][0]["spans"] == 2;
  }));
  r = c.Get(std::string("/api/traces/") + kTrace);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  json t = json::parse(r.body());
  EXPECT_EQ(t["roots"], json::array({"00f067aa0ba902b7"}));
  ASSERT_EQ(t["spans"].size(), 2u);
  EXPECT_EQ(t["spans"][0]["depth"], 0);
  EXPECT_EQ(t["spans"][0]["rollup"]["spans"], 2);
  EXPECT_EQ(c.Get("/api/traces/ffffffffffffffffffffffffffffffff").result_int(), 404);
  // The export streams both spans.
  r = c.Get("/api/export");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(std::count(r.body().begin(), r.body().end(), '\n'), 2);
}

TEST_F(QueryApiTest, QueryAndExportLinesOnTheSocket) {
  auto c = Connect();
  json a = Line(c, {{"$query", "/api/traces"}, {"params", {{"limit", "20"}, {"service", "rag-api"}}}});
  EXPECT_EQ(a["$query"], "/api/traces");
  EXPECT_EQ(a["status"], 200) << a.dump();
  EXPECT_TRUE(a["body"].is_object()) << a.dump();
  // Bad shapes are answered, not dropped.
  a = Line(c, {{"$query", "/api/traces"}, {"params", json::array({1})}});
  EXPECT_EQ(a["status"], 400) << a.dump();
  a = Line(c, {{"$query", "/etc/passwd"}});
  EXPECT_EQ(a["status"], 400) << a.dump();
  // An export ends with its $end line (rows first, when the engine has any).
  ASSERT_TRUE(c.Write(R"({"$export":"spans","params":{"limit":"10"}})"
                      "\n")
                  .has_value());
  json end;
  for (int i = 0; i < 100; ++i) {
    auto l = c.ReadLine(30s);
    ASSERT_TRUE(l.has_value()) << l.error().message;
    end = json::parse(*l);
    if (end.contains("$end")) break;
  }
  EXPECT_EQ(end["$end"], "export") << end.dump();
  // The connection goes on after it: a barrier is still answered.
  EXPECT_EQ(SendSync(c, {}, 7)["$sync"], 7);
}

TEST_F(QueryApiTest, ReplayToAnUnknownUpstreamIsRefused) {
  auto c = Connect();
  json a = Line(c, {{"$replay", "nope"}, {"params", {{"service", "x"}}}});
  EXPECT_EQ(a["$replay"], "nope");
  EXPECT_EQ(a["ok"], false);
  EXPECT_NE(a["error"].get<std::string>().find("no running upstream"), std::string::npos) << a.dump();
}

TEST_F(QueryApiTest, TailOnTheSocketEndsWhenTheClientCloses) {
  {
    auto c = Connect();
    ASSERT_TRUE(c.Write("{\"$tail\":\"spans\"}\n").has_value());
    // Nothing to read yet; the client goes away.
  }
  // The daemon is fine and the connection count returns to zero.
  ASSERT_TRUE(WaitFor([](const json& s) { return s["transports"]["unix_stream"]["connections"] == 0; }));
  auto c = Connect();
  json a = Line(c, {{"$tail", "nonsense"}});
  EXPECT_EQ(a["$end"], "tail") << a.dump();
  EXPECT_EQ(a["status"], 400);
}

class QueryApiOffTest : public QueryApiTest {
 protected:
  std::vector<std::string> Settings() override { return {"local.api=false"}; }
};

TEST_F(QueryApiOffTest, ApiIs404AndTheLinesAreUnknown) {
  HttpClient h(Port());
  EXPECT_EQ(h.Get("/api/traces").result_int(), 404);
  EXPECT_EQ(h.Get("/api/export").result_int(), 404);
  auto c = Connect();
  ASSERT_TRUE(c.Write("{\"$query\":\"/api/traces\"}\n").has_value());
  json s = SendSync(c, {}, 3);
  EXPECT_EQ(s["rejected"], 1) << s.dump();
  EXPECT_EQ(s["errors"][0]["reason"], "unknown control line");
}

class RetentionOffTest : public QueryApiTest {
 protected:
  std::vector<std::string> Settings() override { return {"local.retention=0"}; }
};

TEST_F(RetentionOffTest, EveryPathSaysRetentionIsOff) {
  HttpClient h(Port());
  for (const char* path : {"/api/traces", "/api/stats", "/api/export", "/api/tail"}) {
    Response r = h.Get(path);
    EXPECT_EQ(r.result_int(), 404) << path;
    EXPECT_EQ(json::parse(r.body())["error"], "local retention is off (local.retention = 0)") << path;
  }
  auto c = Connect();
  json a = Line(c, {{"$query", "/api/traces"}});
  EXPECT_EQ(a["status"], 404);
}

}  // namespace
}  // namespace spanvault::testing
