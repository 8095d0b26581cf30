// OTLP export (otlp/otlp_export.h): canonical spans → ExportTraceServiceRequest
// in every dialect, protobuf and OTLP/JSON, read back with a reader of our own
// (tests/upstream/format/otlp_export_reader.h) that keeps attribute names and types.
#include "upstream/format/otlp_export.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <variant>

#include "decode/otlp/otlp_ingest.h"
#include "protobuf/wire.h"
#include "tests/upstream/format/otlp_export_reader.h"

namespace spanvault::otlp {
namespace {

using testing::OtlpAttrs;
using testing::OtlpSpan;
using testing::OtlpValue;
using Json = nlohmann::json;

// A canonical span as the buffer stores it, with every field.
constexpr std::string_view kFullSpan = R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",
"parent_span_id":"00f067aa0ba902b7","span_parents":["00f067aa0ba902b7","1111111111111111"],"name":"chat gpt-4o",
"type":"generation","start_time":"2025-01-02T03:04:05.123456789Z","end_time":"2025-01-02T03:04:06.987654321Z",
"duration_ms":1864.197532,"status":"error","error":{"type":"RateLimitError","message":"slow down","stacktrace":"at a\nat b"},
"model":"gpt-4o","provider":"openai",
"model_parameters":{"temperature":0.2,"max_tokens":256,"stop":["\n"],"service_tier":"default"},
"usage":{"input_tokens":1000,"output_tokens":300,"cache_read_tokens":600,"cache_write_tokens":100,"reasoning_tokens":50,
"total_tokens":1300},
"cost":{"total":0.004125,"input":0.00075,"output":0.0025,"cache_read":0.00075,"cache_write":0.000125,"reasoning":0.0005,
"currency":"USD","price_id":"openai/gpt-4o","source":"table"},
"input":[{"role":"user","content":"hi"}],"output":{"role":"assistant","content":"hello"},"expected":"hello!",
"attributes":{"team":"search","nested":{"depth":2,"flag":true},"ratio":0.5,"labels":["a","b"],"gone":null},
"tags":["prod","beta"],"scores":{"helpful":0.9},"metrics":{"ttft_ms":120},"session_id":"sess-1","user_id":"user-1",
"environment":"production","release":"v1.2.3","service":"chatbot","received_at":"2025-01-02T03:04:07Z",
"source":{"transport":"http","pid":42}})";

constexpr uint64_t kStart = 1735787045123456789ull;
constexpr uint64_t kEnd = 1735787046987654321ull;

struct JsonText {
  std::string text;
};
struct Strings {
  std::vector<std::string> v;
};
struct Absent {};
using Want = std::variant<std::string, int64_t, double, bool, JsonText, Strings, Absent>;
using Table = std::vector<std::pair<std::string, Want>>;

void ExpectAttr(const OtlpAttrs& attrs, const std::string& key, const Want& want) {
  SCOPED_TRACE(key);
  const OtlpValue* v = attrs.get(key);
  if (std::holds_alternative<Absent>(want)) {
    EXPECT_EQ(v, nullptr) << "should be absent";
    return;
  }
  ASSERT_NE(v, nullptr) << "missing";
  if (auto* s = std::get_if<std::string>(&want)) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kString);
    EXPECT_EQ(v->s, *s);
  } else if (auto* i = std::get_if<int64_t>(&want)) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kInt);
    EXPECT_EQ(v->i, *i);
  } else if (auto* d = std::get_if<double>(&want)) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kDouble);
    EXPECT_DOUBLE_EQ(v->d, *d);
  } else if (auto* b = std::get_if<bool>(&want)) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kBool);
    EXPECT_EQ(v->b, *b);
  } else if (auto* j = std::get_if<JsonText>(&want)) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kString);
    Json got = Json::parse(v->s, nullptr, false);
    ASSERT_FALSE(got.is_discarded()) << v->s;
    EXPECT_EQ(got, Json::parse(j->text)) << v->s;
  } else if (auto* a = std::get_if<Strings>(&want)) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kArray);
    std::vector<std::string> got;
    for (const auto& e : v->array) {
      EXPECT_EQ(e.kind, OtlpValue::Kind::kString);
      got.push_back(e.s);
    }
    EXPECT_EQ(got, a->v);
  }
}

void ExpectTable(const OtlpAttrs& attrs, const Table& table) {
  for (const auto& [k, w] : table) ExpectAttr(attrs, k, w);
  EXPECT_EQ(attrs.duplicates, 0);
}

Table Concat(std::initializer_list<Table> parts) {
  Table t;
  for (const auto& p : parts) t.insert(t.end(), p.begin(), p.end());
  return t;
}

// What every dialect writes for kFullSpan.
const Table kCommon = {
    {"user.id", std::string("user-1")},
    {"session.id", std::string("sess-1")},
    {"spanvault.span.type", std::string("generation")},
    {"error.type", std::string("RateLimitError")},
    {"spanvault.trace_id", Absent{}},
    {"spanvault.span_id", Absent{}},
};

// The GenAI block (otel, langfuse, braintrust, brokle).
const Table kGenAi = {
    {"gen_ai.provider.name", std::string("openai")},
    {"gen_ai.operation.name", std::string("chat")},
    {"gen_ai.request.model", std::string("gpt-4o")},
    {"gen_ai.response.model", std::string("gpt-4o")},
    {"gen_ai.request.temperature", 0.2},
    {"gen_ai.request.max_tokens", int64_t{256}},
    {"gen_ai.request.stop_sequences", Strings{{"\n"}}},
    {"gen_ai.request.service_tier", std::string("default")},
    {"gen_ai.usage.input_tokens", int64_t{1000}},
    {"gen_ai.usage.output_tokens", int64_t{300}},
    {"gen_ai.usage.cache_read.input_tokens", int64_t{600}},
    {"gen_ai.usage.cache_creation.input_tokens", int64_t{100}},
    {"gen_ai.usage.reasoning.output_tokens", int64_t{50}},
    {"gen_ai.conversation.id", std::string("sess-1")},
    {"spanvault.cost.total", 0.004125},
    {"spanvault.cost.input", 0.00075},
    {"spanvault.cost.output", 0.0025},
    {"spanvault.cost.cache_read", 0.00075},
    {"spanvault.cost.cache_write", 0.000125},
    {"spanvault.cost.reasoning", 0.0005},
    {"spanvault.cost.source", std::string("table")},
    {"spanvault.cost.price_id", std::string("openai/gpt-4o")},
    {"spanvault.cost.currency", Absent{}},
};

// otel and brokle: messages as GenAI, extras, user attributes flattened.
const Table kOtelRest = {
    {"gen_ai.input.messages", JsonText{R"([{"role":"user","content":"hi"}])"}},
    {"gen_ai.output.messages", JsonText{R"([{"role":"assistant","content":"hello"}])"}},
    {"input.value", Absent{}},
    {"spanvault.tags", Strings{{"prod", "beta"}}},
    {"spanvault.usage.total_tokens", int64_t{1300}},
    {"spanvault.expected", JsonText{R"("hello!")"}},
    {"spanvault.score.helpful", 0.9},
    {"spanvault.metric.ttft_ms", int64_t{120}},
    {"team", std::string("search")},
    {"nested.depth", int64_t{2}},
    {"nested.flag", true},
    {"ratio", 0.5},
    {"labels", Strings{{"a", "b"}}},
    {"gone", Absent{}},
    {"langfuse.observation.type", Absent{}},
    {"openinference.span.kind", Absent{}},
    {"braintrust.input_json", Absent{}},
};

const Table kLangfuse = {
    {"langfuse.observation.type", std::string("generation")},
    {"langfuse.observation.model.name", std::string("gpt-4o")},
    {"langfuse.observation.model.parameters",
     JsonText{R"({"temperature":0.2,"max_tokens":256,"stop":["\n"],"service_tier":"default"})"}},
    // Exclusive buckets: 1000 - 600 - 100 uncached input, 300 - 50 visible output.
    // Issue 21: under Langfuse's own keys for an OpenAI model (input_cached_tokens,
    // output_reasoning_tokens), no longer input_cache_read/output_reasoning.
    {"langfuse.observation.usage_details",
     JsonText{R"({"input":300,"output":250,"input_cached_tokens":600,"input_cache_creation":100,
                 "output_reasoning_tokens":50,"total":1300})"}},
    {"langfuse.observation.cost_details",
     JsonText{R"({"input":0.00075,"output":0.0025,"input_cached_tokens":0.00075,"input_cache_creation":0.000125,
                 "output_reasoning_tokens":0.0005,"total":0.004125})"}},
    {"langfuse.observation.input", JsonText{R"([{"role":"user","content":"hi"}])"}},
    {"langfuse.observation.output", JsonText{R"({"role":"assistant","content":"hello"})"}},
    {"langfuse.observation.metadata.team", std::string("search")},
    {"langfuse.observation.metadata.nested", JsonText{R"({"depth":2,"flag":true})"}},
    {"langfuse.observation.metadata.ratio", std::string("0.5")},
    {"langfuse.observation.metadata.labels", JsonText{R"(["a","b"])"}},
    {"langfuse.observation.metadata.gone", Absent{}},
    {"langfuse.session.id", std::string("sess-1")},
    {"langfuse.user.id", std::string("user-1")},
    {"langfuse.environment", std::string("production")},
    {"langfuse.release", std::string("v1.2.3")},
    {"langfuse.observation.level", std::string("ERROR")},
    {"langfuse.observation.status_message", std::string("slow down")},
    {"langfuse.trace.tags", Strings{{"prod", "beta"}}},
    {"spanvault.expected", JsonText{R"("hello!")"}},
    {"spanvault.score.helpful", 0.9},
    // Payloads once, under Langfuse's names; user attributes only as metadata.
    {"gen_ai.input.messages", Absent{}},
    {"input.value", Absent{}},
    {"team", Absent{}},
};

const Table kBraintrust = {
    {"braintrust.span_attributes", JsonText{R"({"name":"chat gpt-4o","type":"llm"})"}},
    {"braintrust.input_json", JsonText{R"([{"role":"user","content":"hi"}])"}},
    {"braintrust.output_json", JsonText{R"({"role":"assistant","content":"hello"})"}},
    {"braintrust.expected", JsonText{R"("hello!")"}},
    // kFullSpan has a parent: Braintrust takes tags on root spans only (issue
    // 21), so its tags are kept in the metadata and braintrust.tags is absent.
    {"braintrust.metadata",
     JsonText{R"({"model":"gpt-4o","provider":"openai","tags":["prod","beta"],"temperature":0.2,"max_tokens":256,
                 "stop":["\n"],"service_tier":"default","team":"search","nested":{"depth":2,"flag":true},"ratio":0.5,
                 "labels":["a","b"],"gone":null})"}},
    {"braintrust.metrics",
     JsonText{R"({"prompt_tokens":1000,"completion_tokens":300,"tokens":1300,"prompt_cached_tokens":600,
                 "prompt_cache_creation_tokens":100,"completion_reasoning_tokens":50,"estimated_cost":0.004125,
                 "ttft_ms":120})"}},
    {"braintrust.scores", JsonText{R"({"helpful":0.9})"}},
    {"braintrust.tags", Absent{}},
    {"gen_ai.input.messages", Absent{}},
    {"team", Absent{}},
};

// Issue 21: Brokle's own names for the cache and reasoning counts and the
// tags replace the GenAI/spanvault ones (listed after kGenAi and kOtelRest,
// whose entries for these keys Brokle() drops).
const Table kBrokle = {
    {"brokle.span.type", std::string("generation")},
    {"brokle.span.level", std::string("ERROR")},
    {"brokle.environment", std::string("production")},
    {"brokle.release", std::string("v1.2.3")},
    {"brokle.tags", Strings{{"prod", "beta"}}},
    {"gen_ai.usage.input_tokens.cache_read", int64_t{600}},
    {"gen_ai.usage.input_tokens.cache_creation", int64_t{100}},
    {"gen_ai.usage.reasoning_tokens", int64_t{50}},
    {"gen_ai.usage.cache_read.input_tokens", Absent{}},
    {"gen_ai.usage.cache_creation.input_tokens", Absent{}},
    {"gen_ai.usage.reasoning.output_tokens", Absent{}},
    {"spanvault.tags", Absent{}},
};

// `t` without the entries for keys that kBrokle states otherwise.
Table ForBrokle(const Table& t) {
  Table out;
  for (const auto& [k, w] : t) {
    bool replaced = false;
    for (const auto& [bk, bw] : kBrokle) replaced |= bk == k;
    if (!replaced) out.emplace_back(k, w);
  }
  return out;
}

const Table kOpenInference = {
    {"openinference.span.kind", std::string("LLM")},
    {"llm.model_name", std::string("gpt-4o")},
    {"llm.provider", std::string("openai")},
    {"llm.system", std::string("openai")},
    {"llm.invocation_parameters",
     JsonText{R"({"temperature":0.2,"max_tokens":256,"stop":["\n"],"service_tier":"default"})"}},
    {"llm.token_count.prompt", int64_t{1000}},
    {"llm.token_count.completion", int64_t{300}},
    {"llm.token_count.total", int64_t{1300}},
    {"llm.token_count.prompt_details.cache_read", int64_t{600}},
    {"llm.token_count.prompt_details.cache_write", int64_t{100}},
    {"llm.token_count.completion_details.reasoning", int64_t{50}},
    {"llm.cost.total", 0.004125},
    {"llm.cost.prompt", 0.00075 + 0.00075 + 0.000125},
    {"llm.cost.completion", 0.0025 + 0.0005},
    {"llm.cost.prompt_details.input", 0.00075},
    {"llm.cost.prompt_details.cache_read", 0.00075},
    {"llm.cost.prompt_details.cache_write", 0.000125},
    {"llm.cost.completion_details.output", 0.0025},
    {"llm.cost.completion_details.reasoning", 0.0005},
    {"input.value", JsonText{R"([{"role":"user","content":"hi"}])"}},
    {"input.mime_type", std::string("application/json")},
    {"output.value", JsonText{R"({"role":"assistant","content":"hello"})"}},
    {"output.mime_type", std::string("application/json")},
    {"metadata", JsonText{R"({"team":"search","nested":{"depth":2,"flag":true},"ratio":0.5,"labels":["a","b"],
                            "gone":null})"}},
    {"tag.tags", Strings{{"prod", "beta"}}},
    {"spanvault.expected", JsonText{R"("hello!")"}},
    {"gen_ai.usage.input_tokens", Absent{}},
    {"team", Absent{}},
};

struct DialectCase {
  Dialect dialect;
  Table table;
};

std::vector<DialectCase> Cases() {
  return {
      {Dialect::kOtel, Concat({kCommon, kGenAi, kOtelRest, {{"brokle.span.type", Absent{}}}})},
      {Dialect::kLangfuse, Concat({kCommon, kGenAi, kLangfuse})},
      {Dialect::kBraintrust, Concat({kCommon, kGenAi, kBraintrust})},
      {Dialect::kBrokle, Concat({kCommon, ForBrokle(kGenAi), ForBrokle(kOtelRest), kBrokle})},
      {Dialect::kOpenInference, Concat({kCommon, kOpenInference})},
  };
}

enum class Enc { kProto, kJson };

std::vector<OtlpSpan> Export(std::vector<std::string_view> spans, Dialect d, Enc enc) {
  std::string body;
  ExportOptions o{d};
  Status st = enc == Enc::kProto ? EncodeExportProto(spans, o, body) : EncodeExportJson(spans, o, body);
  EXPECT_TRUE(st) << st.error().message;
  std::vector<OtlpSpan> out;
  std::string err = enc == Enc::kProto ? testing::ReadOtlpProto(body, out) : testing::ReadOtlpJson(body, out);
  EXPECT_EQ(err, "");
  return out;
}

class OtlpExportTest : public ::testing::TestWithParam<Enc> {};

TEST_P(OtlpExportTest, FullSpanInEveryDialect) {
  for (const DialectCase& dc : Cases()) {
    SCOPED_TRACE(std::string(DialectName(dc.dialect)));
    auto spans = Export({kFullSpan}, dc.dialect, GetParam());
    ASSERT_EQ(spans.size(), 1u);
    const OtlpSpan& s = spans[0];
    EXPECT_EQ(s.trace_id, "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(s.span_id, "b7ad6b7169203331");
    EXPECT_EQ(s.parent_span_id, "00f067aa0ba902b7");
    EXPECT_EQ(s.name, "chat gpt-4o");
    EXPECT_EQ(s.kind, 3) << "generation: SPAN_KIND_CLIENT";
    EXPECT_EQ(s.start_ns, kStart);
    EXPECT_EQ(s.end_ns, kEnd);
    EXPECT_TRUE(s.has_status);
    EXPECT_EQ(s.status_code, 2);
    EXPECT_EQ(s.status_message, "slow down");
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].name, "exception");
    EXPECT_EQ(s.events[0].time_ns, kEnd);
    ExpectTable(s.events[0].attrs, {{"exception.type", std::string("RateLimitError")},
                                    {"exception.message", std::string("slow down")},
                                    {"exception.stacktrace", std::string("at a\nat b")}});
    ASSERT_EQ(s.links.size(), 1u) << "span_parents[1..] become links";
    EXPECT_EQ(s.links[0].trace_id, s.trace_id);
    EXPECT_EQ(s.links[0].span_id, "1111111111111111");
    ExpectTable(s.resource, {{"service.name", std::string("chatbot")},
                             {"deployment.environment.name", std::string("production")},
                             {"service.version", std::string("v1.2.3")}});
    EXPECT_EQ(s.scope_name, "spanvault");
    EXPECT_FALSE(s.scope_version.empty());
    ExpectTable(s.attrs, dc.table);
  }
}

TEST_P(OtlpExportTest, MinimalSpanIsInternalWithoutStatusAndEndsAtItsStart) {
  auto spans = Export({R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","name":"step",
                          "type":"span","start_time":"2025-01-02T03:04:05Z","status":"ok"})"},
                      Dialect::kOtel, GetParam());
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].kind, 1);
  EXPECT_EQ(spans[0].parent_span_id, "");
  EXPECT_EQ(spans[0].start_ns, 1735787045000000000ull);
  EXPECT_EQ(spans[0].end_ns, spans[0].start_ns);
  EXPECT_FALSE(spans[0].has_status && spans[0].status_code != 0);
  EXPECT_TRUE(spans[0].events.empty());
  EXPECT_EQ(spans[0].attrs.values.size(), 1u) << "only spanvault.span.type";
  ExpectTable(spans[0].resource,
              {{"service.name", std::string("unknown_service")}, {"deployment.environment.name", Absent{}}});
}

TEST_P(OtlpExportTest, OpaqueIdsHashDeterministicallyAndChildrenFindTheirParent) {
  std::vector<std::string_view> in = {
      R"({"trace_id":"run-7","span_id":"root","name":"a","start_time":"2025-01-02T03:04:05Z"})",
      R"({"trace_id":"run-7","span_id":"child","parent_span_id":"root","name":"b","start_time":"2025-01-02T03:04:05Z"})",
      R"({"trace_id":"00000000000000000000000000000000","span_id":"0000000000000000","name":"c",
          "start_time":"2025-01-02T03:04:05Z"})",
      R"({"trace_id":"a3ce929d0e0e4736","span_id":"b7ad6b7169203331","name":"d","start_time":"2025-01-02T03:04:05Z"})",
  };
  auto spans = Export(in, Dialect::kOtel, GetParam());
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0].trace_id, spans[1].trace_id);
  EXPECT_EQ(spans[1].parent_span_id, spans[0].span_id);
  EXPECT_NE(spans[0].span_id, spans[1].span_id);
  EXPECT_NE(spans[0].trace_id, std::string(32, '0'));
  ExpectTable(spans[0].attrs,
              {{"spanvault.trace_id", std::string("run-7")}, {"spanvault.span_id", std::string("root")}});
  ExpectTable(spans[1].attrs, {{"spanvault.parent_span_id", std::string("root")}});
  // All-zero ids are invalid in OTLP: hashed too.
  EXPECT_NE(spans[2].trace_id, std::string(32, '0'));
  EXPECT_NE(spans[2].span_id, std::string(16, '0'));
  ExpectTable(spans[2].attrs, {{"spanvault.trace_id", std::string(32, '0')}});
  // 64-bit trace ids are zero-padded, not hashed.
  EXPECT_EQ(spans[3].trace_id, "0000000000000000a3ce929d0e0e4736");
  ExpectTable(spans[3].attrs, {{"spanvault.trace_id", Absent{}}, {"spanvault.span_id", Absent{}}});
  // Deterministic across requests (and encodings).
  auto again = Export(in, Dialect::kLangfuse, Enc::kProto);
  EXPECT_EQ(again[0].trace_id, spans[0].trace_id);
  EXPECT_EQ(again[1].span_id, spans[1].span_id);
}

TEST_P(OtlpExportTest, GroupsSpansByServiceEnvironmentAndReleaseInOrder) {
  std::vector<std::string_view> in = {
      R"({"name":"a","trace_id":"t","span_id":"1","start_time":"2025-01-02T03:04:05Z","service":"api"})",
      R"({"name":"b","trace_id":"t","span_id":"2","start_time":"2025-01-02T03:04:05Z","service":"worker"})",
      R"({"name":"c","trace_id":"t","span_id":"3","start_time":"2025-01-02T03:04:05Z","service":"api"})",
      R"({"name":"d","trace_id":"t","span_id":"4","start_time":"2025-01-02T03:04:05Z","service":"api",
          "environment":"staging"})",
  };
  auto spans = Export(in, Dialect::kOtel, GetParam());
  ASSERT_EQ(spans.size(), 4u);
  std::vector<std::pair<std::string, size_t>> got;
  for (const auto& s : spans) got.emplace_back(s.name, s.resource_index);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, size_t>>{{"a", 0}, {"c", 0}, {"b", 1}, {"d", 2}}));
  ExpectTable(spans[3].resource,
              {{"service.name", std::string("api")}, {"deployment.environment.name", std::string("staging")}});
}

TEST_P(OtlpExportTest, TextPayloadsStringErrorsAndPartialUsage) {
  constexpr std::string_view kSpan = R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",
    "name":"search","type":"retrieval","start_time":"2025-01-02T03:04:05Z","status":"error","error":"timeout",
    "input":"what is otlp","output":{"docs":3},"usage":{"input_tokens":40,"output_tokens":2},
    "cost":{"total":1.5,"currency":"EUR","source":"client"}})";
  for (Dialect d : {Dialect::kOtel, Dialect::kLangfuse, Dialect::kBraintrust, Dialect::kOpenInference}) {
    SCOPED_TRACE(std::string(DialectName(d)));
    auto spans = Export({kSpan}, d, GetParam());
    ASSERT_EQ(spans.size(), 1u);
    const OtlpSpan& s = spans[0];
    EXPECT_EQ(s.kind, 3) << "retrieval: CLIENT";
    EXPECT_EQ(s.status_code, 2);
    EXPECT_EQ(s.status_message, "timeout");
    EXPECT_TRUE(s.events.empty()) << "a string error has no exception event";
    switch (d) {
      case Dialect::kOtel:
        ExpectTable(s.attrs, {{"input.value", std::string("what is otlp")},
                              {"input.mime_type", std::string("text/plain")},
                              {"output.value", JsonText{R"({"docs":3})"}},
                              {"output.mime_type", std::string("application/json")},
                              // Issue 21: retrieval is a GenAI operation name (v1.38); it was absent.
                              {"gen_ai.operation.name", std::string("retrieval")},
                              {"spanvault.cost.total", 1.5},
                              {"spanvault.cost.currency", std::string("EUR")},
                              {"spanvault.cost.source", std::string("client")},
                              {"error.type", Absent{}}});
        break;
      case Dialect::kLangfuse:
        ExpectTable(s.attrs, {{"langfuse.observation.type", std::string("retriever")},
                              {"langfuse.observation.input", std::string("what is otlp")},
                              {"langfuse.observation.usage_details", JsonText{R"({"input":40,"output":2,"total":42})"}},
                              {"langfuse.observation.cost_details", Absent{}},
                              {"langfuse.observation.status_message", std::string("timeout")}});
        break;
      case Dialect::kBraintrust:
        ExpectTable(s.attrs,
                    {{"braintrust.input_json", JsonText{R"("what is otlp")"}},
                     {"braintrust.span_attributes", JsonText{R"({"name":"search","type":"function"})"}},
                     {"braintrust.metrics", JsonText{R"({"prompt_tokens":40,"completion_tokens":2,"tokens":42})"}}});
        break;
      default:
        ExpectTable(s.attrs, {{"openinference.span.kind", std::string("RETRIEVER")},
                              {"input.value", std::string("what is otlp")},
                              {"input.mime_type", std::string("text/plain")},
                              {"llm.token_count.total", int64_t{42}},
                              {"llm.cost.total", Absent{}}});
    }
  }
}

TEST_P(OtlpExportTest, TypesMapToKindsAndEveryDialectsTypeName) {
  struct Row {
    std::string type;
    int kind;
    std::string operation, langfuse, brokle, openinference, braintrust;
  };
  const std::vector<Row> rows = {
      {"span", 1, "", "span", "span", "CHAIN", "task"},
      {"generation", 3, "chat", "generation", "generation", "LLM", "llm"},
      {"embedding", 3, "embeddings", "embedding", "embedding", "EMBEDDING", "llm"},
      // Issue 21: retrieval is a GenAI operation name (semantic conventions v1.38).
      {"retrieval", 3, "retrieval", "retriever", "retrieval", "RETRIEVER", "function"},
      {"tool", 1, "execute_tool", "tool", "tool", "TOOL", "tool"},
      {"agent", 1, "invoke_agent", "agent", "agent", "AGENT", "task"},
      {"chain", 1, "", "chain", "chain", "CHAIN", "task"},
      {"guardrail", 1, "", "guardrail", "span", "GUARDRAIL", "function"},
      {"evaluator", 1, "", "evaluator", "span", "EVALUATOR", "score"},
      {"event", 1, "", "event", "event", "CHAIN", "task"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.type);
    std::string span =
        R"({"trace_id":"t","span_id":"s","name":"n","start_time":"2025-01-02T03:04:05Z","type":")" + r.type + R"("})";
    auto get = [&](Dialect d) { return Export({span}, d, GetParam()).at(0); };
    OtlpSpan otel = get(Dialect::kOtel);
    EXPECT_EQ(otel.kind, r.kind);
    ExpectAttr(otel.attrs, "gen_ai.operation.name",
               r.operation.empty() ? Want(Absent{}) : Want(std::string(r.operation)));
    ExpectAttr(get(Dialect::kLangfuse).attrs, "langfuse.observation.type", r.langfuse);
    ExpectAttr(get(Dialect::kBrokle).attrs, "brokle.span.type", r.brokle);
    ExpectAttr(get(Dialect::kOpenInference).attrs, "openinference.span.kind", r.openinference);
    ExpectAttr(get(Dialect::kBraintrust).attrs, "braintrust.span_attributes",
               JsonText{R"({"name":"n","type":")" + r.braintrust + R"("})"});
  }
}

INSTANTIATE_TEST_SUITE_P(Encodings, OtlpExportTest, ::testing::Values(Enc::kProto, Enc::kJson),
                         [](const auto& info) { return info.param == Enc::kProto ? "Proto" : "Json"; });

// canonical → OTLP → canonical through the ingest side's decoder: what a
// spanvault (or any reader of these conventions) gets back.
TEST(OtlpExportRoundTripTest, IngestReadsBackTheCoreFieldsInEveryDialect) {
  std::vector<std::string_view> in = {kFullSpan};
  for (Dialect d :
       {Dialect::kOtel, Dialect::kLangfuse, Dialect::kBraintrust, Dialect::kBrokle, Dialect::kOpenInference}) {
    for (bool proto : {true, false}) {
      SCOPED_TRACE(std::string(DialectName(d)) + (proto ? " proto" : " json"));
      std::string body;
      ASSERT_TRUE(proto ? EncodeExportProto(in, {d}, body) : EncodeExportJson(in, {d}, body));
      auto back = proto ? DecodeOtlpProto(body) : DecodeOtlpJson(body);
      ASSERT_TRUE(back) << back.error().message;
      ASSERT_EQ(back->spans.size(), 1u);
      EXPECT_EQ(back->rejected, 0u);
      Json c = Json::parse(back->spans[0]);
      EXPECT_EQ(c["trace_id"], "0af7651916cd43dd8448eb211c80319c");
      EXPECT_EQ(c["span_id"], "b7ad6b7169203331");
      EXPECT_EQ(c["parent_span_id"], "00f067aa0ba902b7");
      EXPECT_EQ(c["name"], "chat gpt-4o");
      EXPECT_EQ(c["type"], "generation");
      EXPECT_EQ(c["start_time"], "2025-01-02T03:04:05.123456789Z");
      EXPECT_EQ(c["end_time"], "2025-01-02T03:04:06.987654321Z");
      EXPECT_EQ(c["status"], "error");
      EXPECT_EQ(c["model"], "gpt-4o");
      EXPECT_EQ(c["provider"], "openai");
      EXPECT_EQ(c["usage"]["input_tokens"], 1000) << "inclusive of cache again";
      EXPECT_EQ(c["usage"]["output_tokens"], 300);
      EXPECT_EQ(c["usage"]["cache_read_tokens"], 600);
      EXPECT_EQ(c["usage"]["cache_write_tokens"], 100);
      EXPECT_EQ(c["usage"]["reasoning_tokens"], 50);
      EXPECT_EQ(c["session_id"], "sess-1");
      EXPECT_EQ(c["user_id"], "user-1");
      EXPECT_EQ(c["service"], "chatbot");
      EXPECT_EQ(c["environment"], "production");
      EXPECT_EQ(c["release"], "v1.2.3");
      if (d != Dialect::kBraintrust) {
        EXPECT_EQ(c["input"], Json::parse(R"([{"role":"user","content":"hi"}])"));
      }
    }
  }
}

TEST(OtlpExportJsonTest, FollowsTheOtlpJsonEncodingRules) {
  std::string body;
  std::vector<std::string_view> in = {kFullSpan};
  ASSERT_TRUE(EncodeExportJson(in, {}, body));
  Json doc = Json::parse(body);
  const Json& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span["traceId"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(span["startTimeUnixNano"], std::to_string(kStart)) << "uint64 as a decimal string";
  EXPECT_EQ(span["kind"], 3) << "enums as numbers";
  EXPECT_EQ(span["status"]["code"], 2);
  EXPECT_NE(body.find(R"({"key":"gen_ai.usage.input_tokens","value":{"intValue":"1000"}})"), std::string::npos);
  EXPECT_NE(body.find(R"({"key":"ratio","value":{"doubleValue":0.5}})"), std::string::npos);
}

TEST(OtlpExportErrorTest, RefusesWhatIsNotACanonicalSpanNamingIt) {
  std::vector<std::string_view> in = {
      R"({"trace_id":"t","span_id":"s","name":"ok","start_time":"2025-01-02T03:04:05Z"})",
      R"({"trace_id":"t","span_id":"s","start_time":"2025-01-02T03:04:05Z"})"};
  for (bool proto : {true, false}) {
    std::string out = "keep";
    Status st = proto ? EncodeExportProto(in, {}, out) : EncodeExportJson(in, {}, out);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message, "span 1: name is missing");
    EXPECT_EQ(out, "keep");
  }
  std::vector<std::string_view> bad = {"[1]", "{\"name\":\"x\",\"start_time\":\"yesterday\"}", "{"};
  for (auto b : bad) {
    std::string out;
    std::vector<std::string_view> one = {b};
    EXPECT_FALSE(EncodeExportProto(one, {}, out)) << b;
  }
  std::string empty;
  ASSERT_TRUE(EncodeExportJson({}, {}, empty));
  EXPECT_EQ(empty, R"({"resourceSpans":[]})");
}

TEST(OtlpExportResponseTest, ReadsPartialSuccessInBothEncodings) {
  std::string inner, proto;
  WireWriter iw(inner);
  iw.Varint(1, 3);
  iw.Bytes(2, "3 spans too large");
  WireWriter(proto).Bytes(1, inner);
  auto p = DecodeExportResponseProto(proto);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rejected_spans, 3);
  EXPECT_EQ(p->error_message, "3 spans too large");

  auto j = DecodeExportResponseJson(R"({"partialSuccess":{"rejectedSpans":"5","errorMessage":"bad"}})");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->rejected_spans, 5);
  EXPECT_EQ(j->error_message, "bad");
  EXPECT_EQ(DecodeExportResponseJson(R"({"partialSuccess":{"rejectedSpans":2}})")->rejected_spans, 2);
  auto warning = DecodeExportResponseJson(R"({"partialSuccess":{"errorMessage":"deprecated attribute"}})");
  ASSERT_TRUE(warning);
  EXPECT_EQ(warning->rejected_spans, 0);

  for (std::string_view none : {"", "{}", R"({"partialSuccess":{}})", "not json", "\x0a\x05\x08"}) {
    EXPECT_FALSE(DecodeExportResponseJson(none)) << none;
    EXPECT_FALSE(DecodeExportResponseProto(none)) << none;
  }
}

TEST(OtlpExportDialectTest, NamesRoundTrip) {
  for (std::string_view n : {"otel", "langfuse", "braintrust", "brokle", "openinference"}) {
    auto d = ParseDialect(n);
    ASSERT_TRUE(d) << n;
    EXPECT_EQ(DialectName(*d), n);
  }
  EXPECT_FALSE(ParseDialect("Langfuse"));
  EXPECT_EQ(KnownDialects(), "otel, langfuse, braintrust, brokle, openinference");
}

}  // namespace
}  // namespace spanvault::otlp
