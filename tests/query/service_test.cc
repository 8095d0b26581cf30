// query::Service on a real SpanQueue with local retention in a temp dir:
// the trace index (rebuilt after reopen and after its directory is deleted),
// every filter, pagination, the tree with rollups and a DAG, sessions,
// stats, export shapes, the 400s and the tail. Every wait is on a condition
// (the index caught up with next_seq).
#include "query/service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "buffer/trace_index.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::query {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using spanvault::testing::WaitFor;

struct SpanSpec {
  std::string trace, id, parent, name = "op", type = "span", service = "api", model, session, user, env = "prod";
  std::string status = "ok";
  int start_s = 0;   // seconds after the base time
  int start_ms = 0;  // and milliseconds
  int duration_ms = 100;
  uint64_t in = 0, out = 0;
  double cost = 0;
  std::vector<std::string> tags, span_parents;
};

constexpr int64_t kBase = 1'796'000'000LL * 1'000'000'000;  // 2026-11-30

std::string SpanJson(const SpanSpec& s) {
  json j = {
      {"trace_id", s.trace},
      {"span_id", s.id},
      {"name", s.name},
      {"type", s.type},
      {"start_time", FormatRfc3339(kBase + s.start_s * 1'000'000'000LL + s.start_ms * 1'000'000LL)},
      {"end_time", FormatRfc3339(kBase + s.start_s * 1'000'000'000LL + (s.start_ms + s.duration_ms) * 1'000'000LL)},
      {"duration_ms", s.duration_ms},
      {"status", s.status},
      {"service", s.service},
      {"environment", s.env},
      {"input", "in-" + s.id},
      {"output", "out-" + s.id}};
  if (!s.parent.empty()) j["parent_span_id"] = s.parent;
  if (!s.span_parents.empty()) j["span_parents"] = s.span_parents;
  if (!s.model.empty()) j["model"] = s.model;
  if (!s.session.empty()) j["session_id"] = s.session;
  if (!s.user.empty()) j["user_id"] = s.user;
  if (!s.tags.empty()) j["tags"] = s.tags;
  if (s.in || s.out) j["usage"] = {{"input_tokens", s.in}, {"output_tokens", s.out}, {"total_tokens", s.in + s.out}};
  if (s.cost > 0) j["cost"] = {{"total", s.cost}, {"currency", "USD"}};
  return j.dump();
}

class QueryTest : public ::testing::Test {
 protected:
  void Open(std::chrono::milliseconds retention = std::chrono::hours(24), uint64_t local_max = 512ull << 20) {
    buffer::Options o;
    o.dir = dir_.path();
    o.fsync_interval = 1h;
    o.retention = retention;
    o.local_max_disk_bytes = local_max;
    auto q = buffer::SpanQueue::Open(o);
    ASSERT_TRUE(q.has_value()) << q.error().message;
    queue_ = std::move(*q);
    service_ = std::make_unique<Service>(*queue_);
  }
  void Close() {
    service_.reset();
    queue_.reset();
  }
  void Add(const std::vector<SpanSpec>& specs) {
    span::Batch b;
    b.received_ns = NowNanos();
    for (const auto& s : specs) {
      std::string j = SpanJson(s);
      b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(j.size())});
      b.data += j;
    }
    std::promise<void> p;
    queue_->Append(std::move(b), false, [&](const span::StoreResult& r) {
      EXPECT_TRUE(r.ok);
      p.set_value();
    });
    p.get_future().get();
    WaitIndexed();
  }
  void WaitIndexed() {
    ASSERT_TRUE(WaitFor([&] { return queue_->traces()->indexed_next() >= queue_->next_seq(); }, 20s));
  }
  json Get(const std::string& path, std::vector<std::pair<std::string, std::string>> params = {}, int want = 200) {
    Response r = service_->Handle({path, std::move(params)});
    EXPECT_EQ(r.status, want) << path << ": " << r.body;
    return json::parse(r.body);
  }
  std::vector<std::string> Ids(const json& list) {
    std::vector<std::string> out;
    for (const auto& t : list["traces"]) out.push_back(t["trace_id"]);
    return out;
  }
  // Three traces: t1 (rag, gpt, error, session s1), t2 (chat, claude, s1), t3 (batch).
  void AddThree() {
    Add({{.trace = "t1",
          .id = "a",
          .name = "rag-answer",
          .service = "rag",
          .session = "s1",
          .user = "u1",
          .start_s = 0,
          .duration_ms = 2000},
         {.trace = "t1",
          .id = "b",
          .parent = "a",
          .type = "generation",
          .service = "rag",
          .model = "gpt",
          .status = "error",
          .start_s = 0,
          .duration_ms = 800,
          .in = 100,
          .out = 10,
          .cost = 0.5,
          .tags = {"beta"}}});
    Add({{.trace = "t2",
          .id = "c",
          .name = "chat",
          .service = "chat",
          .session = "s1",
          .user = "u2",
          .env = "dev",
          .start_s = 10,
          .duration_ms = 300},
         {.trace = "t2",
          .id = "d",
          .parent = "c",
          .type = "generation",
          .service = "chat",
          .model = "claude",
          .start_s = 10,
          .duration_ms = 200,
          .in = 50,
          .out = 5,
          .cost = 0.1}});
    Add({{.trace = "t3", .id = "e", .name = "batch-job", .service = "batch", .start_s = 20, .duration_ms = 50}});
  }

  spanvault::testing::TempDir dir_;
  std::unique_ptr<buffer::SpanQueue> queue_;
  std::unique_ptr<Service> service_;
};

TEST_F(QueryTest, RetentionOffAnswers404Everywhere) {
  Open(0ms);
  EXPECT_EQ(queue_->traces(), nullptr);
  for (const char* p : {"/api/traces", "/api/traces/x", "/api/sessions/s", "/api/stats"}) {
    Response r = service_->Handle({p, {}});
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("local retention is off"), std::string::npos);
  }
  EXPECT_EQ(service_->Export({"/api/export", {}}, [](std::string_view) { return true; }).status, 404);
}

TEST_F(QueryTest, ListIsNewestFirstWithSummaries) {
  Open();
  AddThree();
  json list = Get("/api/traces");
  EXPECT_EQ(Ids(list), (std::vector<std::string>{"t3", "t2", "t1"}));
  EXPECT_TRUE(list["next_cursor"].is_null());
  const json& t1 = list["traces"][2];
  EXPECT_EQ(t1["name"], "rag-answer");
  EXPECT_EQ(t1["root_span_id"], "a");
  EXPECT_EQ(t1["spans"], 2);
  EXPECT_EQ(t1["errors"], 1);
  EXPECT_EQ(t1["status"], "error");
  EXPECT_EQ(t1["total_tokens"], 110);
  EXPECT_DOUBLE_EQ(t1["cost"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(t1["duration_ms"].get<double>(), 2000.0);
  EXPECT_EQ(t1["models"], json({"gpt"}));
  EXPECT_EQ(t1["types"], json({"generation", "span"}));
  EXPECT_EQ(t1["tags"], json({"beta"}));
  EXPECT_EQ(t1["session_id"], "s1");
}

// Stored times drop trailing fraction zeros ("...:00Z" vs "...:00.05Z"), so
// their text order is not their time order: the summary and the tree must
// compare instants.
TEST_F(QueryTest, TimesWithAndWithoutFractionsCompareAsInstants) {
  Open();
  Add({{.trace = "tf", .id = "kid", .parent = "root", .name = "late", .start_ms = 50, .duration_ms = 2250},
       {.trace = "tf", .id = "kid0", .parent = "root", .name = "early", .start_ms = 0, .duration_ms = 10},
       {.trace = "tf", .id = "root", .name = "whole", .start_ms = 0, .duration_ms = 2310}});
  json t = Get("/api/traces")["traces"][0];
  EXPECT_EQ(t["start_time"], FormatRfc3339(kBase));
  EXPECT_DOUBLE_EQ(t["duration_ms"].get<double>(), 2310.0);
  json tree = Get("/api/traces/tf");
  ASSERT_EQ(tree["spans"].size(), 3u);
  EXPECT_EQ(tree["spans"][1]["span"]["name"], "early");
  EXPECT_EQ(tree["spans"][2]["span"]["name"], "late");
}

TEST_F(QueryTest, EveryFilter) {
  Open();
  AddThree();
  using P = std::vector<std::pair<std::string, std::string>>;
  auto ids = [&](P p) { return Ids(Get("/api/traces", std::move(p))); };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({{"service", "chat"}}), V{"t2"});
  EXPECT_EQ(ids({{"session", "s1"}}), (V{"t2", "t1"}));
  EXPECT_EQ(ids({{"user", "u1"}}), V{"t1"});
  EXPECT_EQ(ids({{"environment", "dev"}}), V{"t2"});
  EXPECT_EQ(ids({{"model", "gpt"}}), V{"t1"});
  EXPECT_EQ(ids({{"type", "generation"}}), (V{"t2", "t1"}));
  EXPECT_EQ(ids({{"tag", "beta"}}), V{"t1"});
  EXPECT_EQ(ids({{"status", "error"}}), V{"t1"});
  EXPECT_EQ(ids({{"status", "ok"}}), (V{"t3", "t2"}));
  EXPECT_EQ(ids({{"min_cost", "0.2"}}), V{"t1"});
  EXPECT_EQ(ids({{"min_duration_ms", "250"}}), (V{"t2", "t1"}));
  EXPECT_EQ(ids({{"q", "BATCH"}}), V{"t3"});
  const std::string t10 = FormatRfc3339(kBase + 10'000'000'000LL);
  EXPECT_EQ(ids({{"from", t10}}), (V{"t3", "t2"}));
  EXPECT_EQ(ids({{"to", t10}}), V{"t1"});
  EXPECT_EQ(ids({{"from", std::to_string(kBase / 1'000'000'000 + 5)}, {"to", "2100-01-01T00:00:00Z"}}),
            (V{"t3", "t2"}));
  EXPECT_EQ(ids({{"from", "1h"}}), V{});  // the spans started in 2026-11
  EXPECT_EQ(ids({{"session", "s1"}, {"model", "claude"}}), V{"t2"});
}

TEST_F(QueryTest, RefusalsSayWhy) {
  Open();
  for (auto [k, v, why] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"bogus", "1", "unknown parameter: bogus"},
                                                                      {"from", "yesterday", "bad time"},
                                                                      {"min_cost", "abc", "bad number"},
                                                                      {"limit", "0", "bad number for limit"},
                                                                      {"limit", "1001", "bad number for limit"},
                                                                      {"cursor", "zz", "bad cursor"},
                                                                      {"status", "maybe", "status must be"}}) {
    json body = Get("/api/traces", {{k, v}}, 400);
    EXPECT_NE(body["error"].get<std::string>().find(why), std::string::npos) << body;
  }
  EXPECT_EQ(service_->Handle({"/api/stats", {{"group_by", "color"}}}).status, 400);
  EXPECT_EQ(service_->Handle({"/api/traces/x", {{"a", "b"}}}).status, 400);
  EXPECT_EQ(service_->Export({"/api/export", {{"shape", "csv"}}}, [](std::string_view) { return true; }).status, 400);
  Get("/api/traces/nope", {}, 404);
  Get("/api/sessions/nope", {}, 404);
}

TEST_F(QueryTest, PagesFollowTheCursorToTheEnd) {
  Open();
  for (int i = 0; i < 7; ++i) Add({{.trace = "p" + std::to_string(i), .id = "s" + std::to_string(i), .start_s = i}});
  std::vector<std::string> all;
  std::string cursor;
  int pages = 0;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> p = {{"limit", "3"}};
    if (!cursor.empty()) p.emplace_back("cursor", cursor);
    json page = Get("/api/traces", p);
    ++pages;
    for (const auto& id : Ids(page)) all.push_back(id);
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"];
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(all, (std::vector<std::string>{"p6", "p5", "p4", "p3", "p2", "p1", "p0"}));
}

TEST_F(QueryTest, TraceTreeWithDagRollups) {
  Open();
  // r → b, c (by start); d's parents are b and c (a DAG); x's parent was never stored.
  Add({{.trace = "T", .id = "d", .start_s = 3, .in = 1, .out = 1, .span_parents = {"b", "c"}},
       {.trace = "T", .id = "c", .parent = "r", .status = "error", .start_s = 2},
       {.trace = "T", .id = "b", .parent = "r", .start_s = 1, .in = 10, .out = 0},
       {.trace = "T", .id = "r", .name = "root", .start_s = 0},
       {.trace = "T", .id = "x", .parent = "gone", .start_s = 5}});
  json t = Get("/api/traces/T");
  std::vector<std::string> order;
  for (const auto& s : t["spans"]) order.push_back(s["span"]["span_id"]);
  EXPECT_EQ(order, (std::vector<std::string>{"r", "b", "d", "c", "x"}));
  EXPECT_EQ(t["roots"], json({"r", "x"}));
  const json& r = t["spans"][0];
  EXPECT_EQ(r["depth"], 0);
  EXPECT_EQ(r["children"], json({"b", "c"}));
  EXPECT_EQ(r["rollup"]["spans"], 4);  // r, b, c, d: d once although it has two parents
  EXPECT_EQ(r["rollup"]["errors"], 1);
  EXPECT_EQ(r["rollup"]["total_tokens"], 12);
  EXPECT_EQ(t["spans"][2]["depth"], 2);
  EXPECT_EQ(t["spans"][2]["extra_parents"], json({"c"}));
  EXPECT_EQ(t["spans"][3]["rollup"]["spans"], 2);  // c and d
  EXPECT_EQ(t["spans"][4]["depth"], 0);
  EXPECT_EQ(t["trace"]["name"], "root");
  EXPECT_EQ(t["spans"][0]["span"]["input"], "in-r");  // the span as stored
}

TEST_F(QueryTest, SessionIsOldestFirstWithRootInputAndOutput) {
  Open();
  AddThree();
  json s = Get("/api/sessions/s1");
  ASSERT_EQ(s["traces"].size(), 2u);
  EXPECT_EQ(s["traces"][0]["trace_id"], "t1");
  EXPECT_EQ(s["traces"][0]["input"], "in-a");
  EXPECT_EQ(s["traces"][1]["output"], "out-c");
  EXPECT_EQ(s["totals"]["traces"], 2);
  EXPECT_EQ(s["totals"]["spans"], 4);
  EXPECT_EQ(s["totals"]["total_tokens"], 165);
}

TEST_F(QueryTest, StatsGroupsAndPercentiles) {
  Open();
  std::vector<SpanSpec> spans;
  for (int i = 1; i <= 100; ++i) {
    spans.push_back({.trace = "m" + std::to_string(i % 10),
                     .id = "g" + std::to_string(i),
                     .type = "generation",
                     .model = "gpt",
                     .status = i <= 5 ? "error" : "ok",
                     .start_s = i,
                     .duration_ms = i * 10,
                     .in = 1,
                     .out = 1,
                     .cost = 0.01});
  }
  spans.push_back({.trace = "m0", .id = "cl", .model = "claude", .duration_ms = 5, .cost = 0.001});
  Add(spans);
  json st = Get("/api/stats", {{"from", "2000-01-01T00:00:00Z"}});
  EXPECT_EQ(st["group_by"], "model");
  ASSERT_EQ(st["groups"].size(), 2u);
  const json& g = st["groups"][0];
  EXPECT_EQ(g["key"], "gpt");
  EXPECT_EQ(g["calls"], 100);
  EXPECT_EQ(g["traces"], 10);
  EXPECT_EQ(g["errors"], 5);
  EXPECT_DOUBLE_EQ(g["error_rate"].get<double>(), 0.05);
  EXPECT_EQ(g["total_tokens"], 200);
  EXPECT_DOUBLE_EQ(g["latency_ms"]["p50"].get<double>(), 500.0);
  EXPECT_DOUBLE_EQ(g["latency_ms"]["p95"].get<double>(), 950.0);
  EXPECT_DOUBLE_EQ(g["latency_ms"]["p99"].get<double>(), 990.0);
  EXPECT_EQ(st["total"]["calls"], 101);
  EXPECT_TRUE(st["total"]["key"].is_null());
  json by_type = Get("/api/stats", {{"from", "2000-01-01T00:00:00Z"}, {"group_by", "type"}});
  EXPECT_EQ(by_type["total"]["calls"], 101);
  json by_day = Get("/api/stats", {{"from", "2000-01-01T00:00:00Z"}, {"group_by", "day"}});
  ASSERT_EQ(by_day["groups"].size(), 1u);
  EXPECT_EQ(by_day["groups"][0]["key"], "2026-11-30T00:00:00Z");
  // Default from = 24 hours ago: these spans started before that.
  EXPECT_EQ(Get("/api/stats")["total"]["calls"], 0);
}

TEST_F(QueryTest, ExportShapes) {
  Open();
  AddThree();
  auto rows = [&](std::vector<std::pair<std::string, std::string>> p) {
    std::vector<json> out;
    Response r = service_->Export({"/api/export", std::move(p)}, [&](std::string_view line) {
      out.push_back(json::parse(line));
      return true;
    });
    EXPECT_EQ(r.status, 200) << r.body;
    return out;
  };
  auto spans = rows({});
  ASSERT_EQ(spans.size(), 5u);
  EXPECT_EQ(spans[0]["trace_id"], "t1");  // oldest first
  EXPECT_EQ(rows({{"limit", "2"}}).size(), 2u);
  EXPECT_EQ(rows({{"service", "chat"}}).size(), 2u);
  auto ds = rows({{"shape", "dataset"}});
  ASSERT_EQ(ds.size(), 3u);  // root spans
  EXPECT_EQ(ds[0]["id"], "a");
  EXPECT_EQ(ds[0]["input"], "in-a");
  EXPECT_EQ(ds[0]["expected"], "out-a");
  EXPECT_EQ(ds[0]["metadata"]["trace_id"], "t1");
  EXPECT_EQ(rows({{"shape", "dataset"}, {"span_type", "generation"}}).size(), 2u);
  EXPECT_EQ(rows({{"shape", "dataset"}, {"span_type", "any"}}).size(), 5u);
  auto otlp = rows({{"shape", "otlp"}});
  ASSERT_EQ(otlp.size(), 3u);  // one request per trace
  EXPECT_TRUE(otlp[0].contains("resourceSpans"));
  size_t batches = 0, total = 0;
  ASSERT_TRUE(service_->ForEachSpan({"/api/export", {{"session", "s1"}}}, [&](const buffer::RecordBatch& b) {
    ++batches;
    total += b.size();
    return true;
  }));
  EXPECT_EQ(batches, 2u);
  EXPECT_EQ(total, 4u);
}

TEST_F(QueryTest, IndexIsRebuiltAfterReopenAndWithoutItsDirectory) {
  Open();
  AddThree();
  Close();
  Open();
  WaitIndexed();
  EXPECT_EQ(Ids(Get("/api/traces")), (std::vector<std::string>{"t3", "t2", "t1"}));
  Close();
  std::filesystem::remove_all(dir_.path() / "index");
  Open();
  WaitIndexed();
  EXPECT_EQ(Ids(Get("/api/traces", {{"model", "gpt"}})), std::vector<std::string>{"t1"});
  EXPECT_EQ(Get("/api/traces/t2")["spans"].size(), 2u);
}

TEST_F(QueryTest, TracesBelowTheHeadLeaveTheIndex) {
  Open(400ms);
  ASSERT_TRUE(queue_->AddConsumer("up"));
  AddThree();
  ASSERT_TRUE(queue_->Ack("up", queue_->next_seq()));
  EXPECT_EQ(Ids(Get("/api/traces")).size(), 3u);  // delivered, kept
  ASSERT_TRUE(WaitFor([&] { return Ids(Get("/api/traces")).empty(); }, 20s));
  Get("/api/traces/t1", {}, 404);
}

TEST_F(QueryTest, LocalMaxBytesTakesTheOldestTracesFirst) {
  // Three traces of 1024 spans (one SpanIndex extent each, ~350 KB); room
  // for two once they are delivered.
  const uint64_t span_bytes = 17 + SpanJson({.trace = "A", .id = "0000"}).size();
  Open(std::chrono::hours(24), 2 * 1024 * span_bytes + 1024 * 8);
  ASSERT_TRUE(queue_->AddConsumer("up"));
  for (const char* t : {"A", "B", "C"}) {
    std::vector<SpanSpec> spans;
    for (int i = 0; i < 1024; ++i) {
      char id[8];
      std::snprintf(id, sizeof id, "%04d", i);
      spans.push_back({.trace = t, .id = id});
    }
    Add(spans);
  }
  ASSERT_TRUE(queue_->Ack("up", queue_->next_seq()));
  EXPECT_EQ(queue_->GetStats().head_seq, 1025u);
  ASSERT_TRUE(WaitFor([&] { return Ids(Get("/api/traces")).size() == 2; }, 20s));
  EXPECT_EQ(Ids(Get("/api/traces")), (std::vector<std::string>{"C", "B"}));
  EXPECT_EQ(Get("/api/traces/B")["spans"].size(), 1024u);
}

TEST_F(QueryTest, TailGetsSpanAndTraceEvents) {
  Open();
  std::mutex mu;
  std::vector<std::pair<std::string, json>> events;
  uint64_t id = service_->Subscribe([&](std::string_view kind, std::string_view j) {
    std::lock_guard lk(mu);
    events.emplace_back(std::string(kind), json::parse(j));
  });
  ASSERT_NE(id, 0u);
  Add({{.trace = "L", .id = "1", .name = "live", .model = "gpt", .in = 2, .out = 3}});
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lk(mu);
    return events.size() >= 2;
  }));
  service_->Unsubscribe(id);
  std::lock_guard lk(mu);
  EXPECT_EQ(events[0].first, "span");
  EXPECT_EQ(events[0].second["name"], "live");
  EXPECT_EQ(events[0].second["total_tokens"], 5);
  EXPECT_EQ(events[1].first, "trace");
  EXPECT_EQ(events[1].second["trace_id"], "L");
}

}  // namespace
}  // namespace spanvault::query
