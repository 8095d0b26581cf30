// The backends' own APIs as upstream formats: langfuse-ingestion (batch
// events, per-event 207 answers) and braintrust-logs (project logs rows).
// Bodies checked field by field; then end to end against the fake backend,
// including a 207 that fails one span for good and one for now.
#include "upstream/format/vendor_export.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "buffer/dead_letters.h"
#include "config/upstream_config.h"
#include "tests/upstream/fake_backend.h"
#include "tests/upstream/forward_harness.h"
#include "upstream/encoder.h"
#include "upstream/forwarder.h"

namespace spanvault::upstream {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeBackend;
using testing::FakeBackendOptions;
using testing::FakeRequest;
using testing::FakeStep;
using testing_harness::Harness;
using testing_harness::WaitFor;

constexpr const char* kTrace = "0af7651916cd43dd8448eb211c80319c";

// A root agent span and a generation under it, with every field the formats read.
std::vector<std::string> Tree() {
  return {
      std::string(R"({"trace_id":")") + kTrace +
          R"(","span_id":"a000000000000001","name":"plan trip","type":"agent",)"
          R"("start_time":"2025-01-02T03:04:05Z","end_time":"2025-01-02T03:04:09.5Z","input":{"q":"Paris?"},)"
          R"("output":"done","attributes":{"team":"search","n":3},"tags":["beta"],"session_id":"sess-1",)"
          R"("user_id":"u-7","environment":"prod","release":"1.2.3","service":"trips"})",
      std::string(R"({"trace_id":")") + kTrace +
          R"(","span_id":"b000000000000002","parent_span_id":"a000000000000001","name":"chat",)"
          R"("type":"generation","start_time":"2025-01-02T03:04:06Z","end_time":"2025-01-02T03:04:07.25Z",)"
          R"("model":"gpt-4o","provider":"openai","model_parameters":{"temperature":0.2},)"
          R"("usage":{"input_tokens":1000,"output_tokens":300,"cache_read_tokens":200,"cache_write_tokens":100,)"
          R"("reasoning_tokens":50,"total_tokens":1300},)"
          R"("cost":{"total":0.01,"input":0.006,"output":0.003,"cache_read":0.0005,"cache_write":0.0005,)"
          R"("currency":"USD","price_id":"openai/gpt-4o@2024-08-06","source":"table"},)"
          R"("input":[{"role":"user","content":"hi"}],"output":"hello","expected":"hello!",)"
          R"("scores":{"helpful":0.9},"metrics":{"ttft_ms":120},)"
          R"("error":{"type":"RateLimit","message":"slow down"},"attributes":{"region":"eu"}})",
  };
}

std::vector<std::string_view> Views(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

TEST(LangfuseIngestionTest, EventsCarryWhatLangfuseReads) {
  auto spans = Tree();
  std::string body;
  ASSERT_TRUE(otlp::EncodeLangfuseIngestion(Views(spans), body));
  json j = json::parse(body);
  ASSERT_EQ(j["batch"].size(), 3u) << body;
  EXPECT_EQ(j["metadata"]["sdk_name"], "spanvault");

  const json& trace = j["batch"][0];
  EXPECT_EQ(trace["type"], "trace-create");
  EXPECT_EQ(trace["id"], std::string(kTrace) + ".a000000000000001.trace");
  EXPECT_EQ(trace["timestamp"], "2025-01-02T03:04:05Z");
  EXPECT_EQ(trace["body"]["id"], kTrace);
  EXPECT_EQ(trace["body"]["name"], "plan trip");
  EXPECT_EQ(trace["body"]["userId"], "u-7");
  EXPECT_EQ(trace["body"]["sessionId"], "sess-1");
  EXPECT_EQ(trace["body"]["release"], "1.2.3");
  EXPECT_EQ(trace["body"]["environment"], "prod");
  EXPECT_EQ(trace["body"]["tags"], json::array({"beta"}));
  EXPECT_EQ(trace["body"]["input"], json({{"q", "Paris?"}}));
  EXPECT_EQ(trace["body"]["metadata"], json({{"team", "search"}, {"n", 3}}));

  const json& agent = j["batch"][1];
  EXPECT_EQ(agent["type"], "observation-create");
  EXPECT_EQ(agent["id"], std::string(kTrace) + ".a000000000000001.obs");
  EXPECT_EQ(agent["body"]["type"], "AGENT");
  EXPECT_EQ(agent["body"]["id"], "a000000000000001");
  EXPECT_EQ(agent["body"]["traceId"], kTrace);
  EXPECT_FALSE(agent["body"].contains("parentObservationId"));
  EXPECT_EQ(agent["body"]["startTime"], "2025-01-02T03:04:05Z");
  EXPECT_EQ(agent["body"]["endTime"], "2025-01-02T03:04:09.5Z");
  EXPECT_EQ(agent["body"]["level"], "DEFAULT");
  EXPECT_EQ(agent["body"]["version"], "1.2.3");

  const json& gen = j["batch"][2];
  EXPECT_EQ(gen["type"], "generation-create");
  const json& b = gen["body"];
  EXPECT_FALSE(b.contains("type"));
  EXPECT_EQ(b["parentObservationId"], "a000000000000001");
  EXPECT_EQ(b["model"], "gpt-4o");
  EXPECT_EQ(b["modelParameters"], json({{"temperature", 0.2}}));
  // Langfuse's buckets are exclusive: input 1000 - 200 read - 100 written; output 300 - 50 reasoning.
  // Issue 21: under Langfuse's own keys for an OpenAI model (were input_cache_read, output_reasoning).
  EXPECT_EQ(b["usageDetails"], json({{"input", 700},
                                     {"output", 250},
                                     {"input_cached_tokens", 200},
                                     {"input_cache_creation", 100},
                                     {"output_reasoning_tokens", 50},
                                     {"total", 1300}}));
  EXPECT_DOUBLE_EQ(b["costDetails"]["total"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(b["costDetails"]["input"].get<double>(), 0.006);
  EXPECT_DOUBLE_EQ(b["costDetails"]["input_cached_tokens"].get<double>(), 0.0005);
  EXPECT_EQ(b["level"], "ERROR");
  EXPECT_EQ(b["statusMessage"], "slow down");
  EXPECT_EQ(b["input"], json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(b["output"], "hello");
  EXPECT_EQ(b["metadata"]["region"], "eu");
  EXPECT_EQ(b["metadata"]["expected"], "hello!");
  EXPECT_EQ(b["metadata"]["scores"]["helpful"], 0.9);
  EXPECT_EQ(b["metadata"]["metrics"]["ttft_ms"], 120);
}

TEST(LangfuseIngestionTest, TypesMapToEventsAndBadSpansNameTheirIndex) {
  const std::pair<const char*, const char*> cases[] = {
      {"span", "span-create"},
      {"event", "event-create"},
      {"tool", "observation-create/TOOL"},
      {"chain", "observation-create/CHAIN"},
      {"retrieval", "observation-create/RETRIEVER"},
      {"embedding", "observation-create/EMBEDDING"},
      {"guardrail", "observation-create/GUARDRAIL"},
      {"evaluator", "observation-create/EVALUATOR"},
  };
  for (auto [type, want] : cases) {
    std::vector<std::string> spans = {std::string(R"({"trace_id":"t1","span_id":"s1","parent_span_id":"p","name":"x",)"
                                                  R"("start_time":1700000000.5,"type":")") +
                                      type + "\"}"};
    std::string body;
    ASSERT_TRUE(otlp::EncodeLangfuseIngestion(Views(spans), body));
    json e = json::parse(body)["batch"][0];
    std::string got = e["type"].get<std::string>();
    if (e["body"].contains("type")) got += "/" + e["body"]["type"].get<std::string>();
    EXPECT_EQ(got, want) << type;
    EXPECT_EQ(e["body"]["startTime"], "2023-11-14T22:13:20.5Z");
    EXPECT_EQ(e["body"].contains("endTime"), std::string(type) != "event") << type;
  }
  std::vector<std::string> bad = {R"({"name":"ok","start_time":1})", R"({"start_time":1})"};
  std::string body = "keep";
  auto st = otlp::EncodeLangfuseIngestion(Views(bad), body);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "span 1: name is missing");
  EXPECT_EQ(body, "keep");
}

TEST(LangfuseIngestionTest, AnswersMapToSpansAndARetryableStatusWins) {
  auto spans = Tree();
  const std::string trace_event = std::string(kTrace) + ".a000000000000001.trace";
  const std::string agent_event = std::string(kTrace) + ".a000000000000001.obs";
  const std::string gen_event = std::string(kTrace) + ".b000000000000002.obs";
  json answer = {{"successes", json::array()},
                 {"errors",
                  {{{"id", gen_event}, {"status", 400}, {"message", "Invalid request data"}, {"error", {{"x", 1}}}},
                   {{"id", agent_event}, {"status", 400}, {"message", "bad"}},
                   {{"id", trace_event}, {"status", 500}, {"message", "db down"}},
                   {{"id", "not-ours"}, {"status", 400}}}}};
  auto f = otlp::LangfuseIngestionFailures(Views(spans), answer.dump());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].index, 0u);
  EXPECT_EQ(f[0].status, 500) << "the trace event's 500 wins over the observation's 400: retrying helps";
  EXPECT_EQ(f[0].message, "db down");
  EXPECT_EQ(f[1].index, 1u);
  EXPECT_EQ(f[1].status, 400);
  EXPECT_EQ(f[1].message, R"(Invalid request data: {"x":1})");

  EXPECT_TRUE(otlp::LangfuseIngestionFailures(Views(spans), R"({"successes":[],"errors":[]})").empty());
  EXPECT_TRUE(otlp::LangfuseIngestionFailures(Views(spans), "<html>207</html>").empty());
  EXPECT_TRUE(otlp::LangfuseIngestionFailures(Views(spans), "").empty());
}

TEST(BraintrustLogsTest, RowsCarryWhatBraintrustReads) {
  auto spans = Tree();
  spans.push_back(R"({"trace_id":"t2","span_id":"c3","span_parents":["p1","p2"],"name":"score it",)"
                  R"("type":"evaluator","start_time":10,"metrics":{"tokens":5,"latency":1.5}})");
  std::string body;
  ASSERT_TRUE(otlp::EncodeBraintrustLogs(Views(spans), body));
  json j = json::parse(body);
  ASSERT_EQ(j["events"].size(), 3u) << body;
  const json& root = j["events"][0];
  EXPECT_EQ(root["id"], std::string(kTrace) + ".a000000000000001");
  EXPECT_EQ(root["span_id"], "a000000000000001");
  EXPECT_EQ(root["root_span_id"], kTrace);
  EXPECT_FALSE(root.contains("span_parents"));
  EXPECT_EQ(root["span_attributes"], json({{"name", "plan trip"}, {"type", "task"}}));
  EXPECT_EQ(root["metadata"]["team"], "search");
  EXPECT_EQ(root["metadata"]["session_id"], "sess-1");
  EXPECT_EQ(root["metadata"]["service"], "trips");
  EXPECT_DOUBLE_EQ(root["metrics"]["start"].get<double>(), 1735787045.0);
  EXPECT_DOUBLE_EQ(root["metrics"]["end"].get<double>(), 1735787049.5);
  EXPECT_EQ(root["tags"], json::array({"beta"}));

  const json& gen = j["events"][1];
  EXPECT_EQ(gen["span_parents"], json::array({"a000000000000001"}));
  EXPECT_EQ(gen["span_attributes"]["type"], "llm");
  EXPECT_EQ(gen["metadata"]["model"], "gpt-4o");
  EXPECT_EQ(gen["metadata"]["provider"], "openai");
  EXPECT_EQ(gen["metadata"]["temperature"], 0.2);
  const json& m = gen["metrics"];
  EXPECT_EQ(m["prompt_tokens"], 1000);
  EXPECT_EQ(m["completion_tokens"], 300);
  EXPECT_EQ(m["tokens"], 1300);
  EXPECT_EQ(m["prompt_cached_tokens"], 200);
  EXPECT_EQ(m["prompt_cache_creation_tokens"], 100);
  EXPECT_EQ(m["completion_reasoning_tokens"], 50);
  EXPECT_DOUBLE_EQ(m["estimated_cost"].get<double>(), 0.01);
  EXPECT_EQ(m["ttft_ms"], 120);
  EXPECT_EQ(gen["error"], json({{"type", "RateLimit"}, {"message", "slow down"}}));
  EXPECT_EQ(gen["expected"], "hello!");
  EXPECT_EQ(gen["scores"]["helpful"], 0.9);

  const json& ev = j["events"][2];
  EXPECT_EQ(ev["span_parents"], json::array({"p1", "p2"}));
  EXPECT_EQ(ev["span_attributes"]["type"], "score");
  EXPECT_EQ(ev["metrics"]["latency"], 1.5);
  EXPECT_FALSE(ev["metrics"].contains("tokens")) << "no usage: the span's own metrics only, minus our names";
}

UpstreamConfig Vendor(const std::string& format, const std::string& endpoint) {
  UpstreamConfig c;
  c.name = "vendor";
  c.format = format;
  c.endpoint = endpoint;
  c.linger = 20ms;
  c.batch_max_spans = 64;
  c.retry.initial = 20ms;
  c.retry.max = 200ms;
  c.timeout = 2s;
  if (format == "langfuse-ingestion") {
    c.public_key = "pk-lf-1";
    c.secret_key = "sk-lf-2";
  } else {
    c.api_key = "bt-key";
  }
  return c;
}

TEST(VendorFormatTest, EndpointsAndOptionsAreValidated) {
  auto lf = Vendor("langfuse-ingestion", "https://cloud.langfuse.com");
  EXPECT_EQ(*EffectiveEndpoint(lf), "https://cloud.langfuse.com/api/public/ingestion");
  lf.endpoint = "https://lf.internal/custom/ingest";
  EXPECT_EQ(*EffectiveEndpoint(lf), "https://lf.internal/custom/ingest");
  EXPECT_TRUE(lf.Validate().empty());

  auto bt = Vendor("braintrust-logs", "https://api.braintrust.dev/");
  bt.parent = "project_id:p-123";
  EXPECT_EQ(*EffectiveEndpoint(bt), "https://api.braintrust.dev/v1/project_logs/p-123/insert");
  EXPECT_TRUE(bt.Validate().empty());
  bt.parent = "project_name:trips";
  EXPECT_EQ(bt.Validate(), std::vector<std::string>{"upstream vendor: parent must look like project_id:ID for format "
                                                    "braintrust-logs (it names the project to log to)"});
  bt.parent.clear();
  EXPECT_EQ(bt.Validate(), std::vector<std::string>{
                               "upstream vendor: format braintrust-logs needs the full endpoint "
                               "(https://api.braintrust.dev/v1/project_logs/ID/insert) or a bare one with parent = "
                               "\"project_id:ID\""});
  bt.endpoint = "https://api.braintrust.dev/v1/project_logs/p-9/insert";
  EXPECT_TRUE(bt.Validate().empty());
  bt.parent = "project_id:p-9";
  EXPECT_EQ(bt.Validate().size(), 1u) << "a path and a parent: which one wins?";

  auto none = Vendor("langfuse-ingestion", "https://cloud.langfuse.com");
  none.public_key.clear();
  none.secret_key.clear();
  EXPECT_EQ(none.Validate(), std::vector<std::string>{"upstream vendor: format langfuse-ingestion needs public_key "
                                                      "and secret_key (or headers.Authorization)"});
  none.dialect = "langfuse";
  EXPECT_EQ(none.Validate().front(), "upstream vendor: dialect applies only to the formats otlp-proto and otlp-json");
  auto bt2 = Vendor("braintrust-logs", "https://api.braintrust.dev/v1/project_logs/p/insert");
  bt2.public_key = "x";
  EXPECT_EQ(bt2.Validate(),
            std::vector<std::string>{"upstream vendor: public_key is not used by format braintrust-logs"});
}

// Span ids in what the fake backend got: observation ids (Langfuse), row span ids (Braintrust).
std::vector<std::string> VendorSpanIds(const FakeRequest& r) {
  std::vector<std::string> ids;
  json j = json::parse(r.body, nullptr, false);
  if (j.contains("batch")) {
    for (const auto& e : j["batch"]) {
      if (e["type"] != "trace-create") ids.push_back(e["body"]["id"]);
    }
  } else if (j.contains("events")) {
    for (const auto& e : j["events"]) ids.push_back(e["span_id"]);
  }
  return ids;
}

std::vector<std::string> Spans(size_t n, std::vector<std::string>& ids) {
  std::vector<std::string> spans;
  for (size_t i = 0; i < n; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", i + 1);
    ids.push_back(id);
    spans.push_back(std::string(R"({"trace_id":")") + kTrace + R"(","span_id":")" + id +
                    R"(","parent_span_id":"ffffffffffffffff","name":"chat","type":"generation",)"
                    R"("start_time":"2025-01-02T03:04:05Z","model":"gpt-4o","usage":{"input_tokens":10}})");
  }
  return spans;
}

TEST(VendorForwardTest, Langfuse207RetriesOneSpanAndDeadLettersAnotherAlone) {
  // Span 5's event is refused for good (400); span 9's fails once with a 500.
  const std::string refused = std::string(kTrace) + ".0000000000000005.obs";
  const std::string flaky = std::string(kTrace) + ".0000000000000009.obs";
  auto failed_once = std::make_shared<bool>(false);
  FakeBackendOptions o;
  o.extract_span_ids = VendorSpanIds;
  o.respond = [=](const FakeRequest& r) -> std::optional<FakeStep> {
    json j = json::parse(r.body, nullptr, false);
    if (!j.contains("batch")) return std::nullopt;
    json answer = {{"successes", json::array()}, {"errors", json::array()}};
    for (const auto& e : j["batch"]) {
      const std::string id = e["id"];
      if (id == refused) {
        answer["errors"].push_back({{"id", id}, {"status", 400}, {"message", "Invalid request data"}});
      } else if (id == flaky && !*failed_once) {
        *failed_once = true;
        answer["errors"].push_back({{"id", id}, {"status", 500}, {"message", "try later"}});
      } else {
        answer["successes"].push_back({{"id", id}, {"status", 201}});
      }
    }
    return FakeStep{.status = 207, .headers = {{"Content-Type", "application/json"}}, .body = answer.dump()};
  };
  FakeBackend backend(o);
  backend.Start();
  Harness h;
  Forwarder& f = h.Add(Vendor("langfuse-ingestion", backend.url("/")));
  std::vector<std::string> ids;
  h.AppendJson(Spans(20, ids));
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
  auto s = f.GetStats();
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(s.delivered_spans, 19u) << "20 sent, one refused for good (span 9 counts once: on its retry)";
  EXPECT_EQ(s.retries, 1u);
  auto requests = backend.requests();
  ASSERT_EQ(requests.size(), 2u) << "the batch, then span 9 alone; span 5 is not sent again";
  EXPECT_EQ(requests[0].span_ids.size(), 20u);
  EXPECT_EQ(requests[1].span_ids, std::vector<std::string>{"0000000000000009"});
  for (const auto& r : requests) {
    EXPECT_EQ(r.target, "/api/public/ingestion");
    EXPECT_EQ(r.Header("Authorization"), "Basic cGstbGYtMTpzay1sZi0y");
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
    EXPECT_EQ(r.Header("Content-Encoding"), "gzip");
  }
  auto dl = h.queue().dead_letters().List({}, 10);
  ASSERT_TRUE(dl);
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_EQ(dl->front().status, 400);
  EXPECT_NE(dl->front().span_json.find("\"0000000000000005\""), std::string::npos);
  EXPECT_NE(dl->front().reason.find("Invalid request data"), std::string::npos) << dl->front().reason;
}

TEST(VendorForwardTest, BraintrustLogsArriveAtTheProjectsPath) {
  FakeBackendOptions o;
  o.extract_span_ids = VendorSpanIds;
  FakeBackend backend(o);
  backend.Start();
  backend.SetDefault({.status = 200, .body = R"({"row_ids":[]})"});
  Harness h;
  auto c = Vendor("braintrust-logs", backend.url("/"));
  c.parent = "project_id:p-42";
  Forwarder& f = h.Add(c);
  std::vector<std::string> ids;
  h.AppendJson(Spans(150, ids));
  ASSERT_TRUE(backend.WaitForUniqueSpans(150, 20s));
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
  EXPECT_EQ(f.GetStats().delivered_spans, 150u);
  for (const auto& r : backend.requests()) {
    EXPECT_EQ(r.target, "/v1/project_logs/p-42/insert");
    EXPECT_EQ(r.Header("Authorization"), "Bearer bt-key");
    EXPECT_EQ(r.Header("x-bt-parent"), "") << "the project is in the path";
  }
}

}  // namespace
}  // namespace spanvault::upstream
