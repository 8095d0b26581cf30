// The OTLP → canonical mapping, one table per convention. Every case runs
// through protobuf and JSON (MapOne checks they agree) and span::Decoder.
#include <gtest/gtest.h>

#include "decode/otlp/conventions.h"
#include "otlp_test_util.h"

namespace spanvault::otlp::testing {
namespace {

const json kAbsent = "<absent>";

struct Expect {
  std::string pointer;  // JSON pointer into the produced span
  json value;           // kAbsent: the field must not exist
};

struct Case {
  const char* name;
  Attrs attrs;
  std::vector<Expect> expect;
  uint32_t status_code = 0;
  std::string status_message;
  std::vector<TestEvent> events;
  Attrs resource;
};

void RunCases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TestSpan s;
    s.attrs = c.attrs;
    s.status_code = c.status_code;
    s.status_message = c.status_message;
    s.events = c.events;
    json j = MapOne(s, c.resource);
    for (const auto& e : c.expect) {
      json::json_pointer p(e.pointer);
      if (e.value == kAbsent) {
        EXPECT_FALSE(j.contains(p)) << e.pointer << " in " << j.dump();
      } else {
        ASSERT_TRUE(j.contains(p)) << e.pointer << " missing in " << j.dump();
        EXPECT_EQ(j[p], e.value) << e.pointer << " in " << j.dump();
      }
    }
  }
}

json J(const char* text) { return json::parse(text); }

TEST(OtlpMappingTest, GenAi) {
  RunCases({
      {"current conventions",
       {{"gen_ai.operation.name", "chat"},
        {"gen_ai.provider.name", "openai"},
        {"gen_ai.request.model", "gpt-4o"},
        {"gen_ai.response.model", "gpt-4o-2024-08-06"},
        {"gen_ai.request.temperature", V::Double(0.2)},
        {"gen_ai.request.max_tokens", V::Int(100)},
        {"gen_ai.request.stop_sequences", V::Array({"\n\n"})},
        {"gen_ai.usage.input_tokens", V::Int(100)},
        {"gen_ai.usage.output_tokens", V::Int(50)},
        {"gen_ai.usage.cache_read.input_tokens", V::Int(20)},
        {"gen_ai.usage.cache_creation.input_tokens", V::Int(5)},
        {"gen_ai.usage.reasoning.output_tokens", V::Int(10)},
        {"gen_ai.input.messages", R"([{"role":"user","parts":[{"type":"text","content":"hi"}]}])"},
        {"gen_ai.output.messages", R"([{"role":"assistant","parts":[{"type":"text","content":"hello"}]}])"},
        {"gen_ai.conversation.id", "conv-1"}},
       {{"/type", "generation"},
        {"/model", "gpt-4o-2024-08-06"},
        {"/provider", "openai"},
        {"/model_parameters", J(R"({"temperature":0.2,"max_tokens":100,"stop_sequences":["\n\n"]})")},
        {"/usage", J(R"({"input_tokens":100,"output_tokens":50,"cache_read_tokens":20,"cache_write_tokens":5,
                         "reasoning_tokens":10})")},
        {"/input/0/parts/0/content", "hi"},
        {"/output/0/role", "assistant"},
        {"/session_id", "conv-1"},
        {"/attributes/gen_ai.request.model", "gpt-4o"},  // the other model stays
        {"/attributes/gen_ai.operation.name", "chat"},
        {"/attributes/gen_ai.usage.input_tokens", kAbsent},
        {"/attributes/gen_ai.input.messages", kAbsent},
        {"/cost", kAbsent}}},
      {"legacy names",
       {{"gen_ai.system", "OpenAI"},
        {"gen_ai.request.model", "gpt-3.5-turbo"},
        {"gen_ai.usage.prompt_tokens", V::Int(30)},
        {"gen_ai.usage.completion_tokens", V::Int(7)},
        {"gen_ai.prompt", "Say hi"},
        {"gen_ai.completion", R"({"text":"hi"})"}},
       {{"/type", "generation"},
        {"/model", "gpt-3.5-turbo"},
        {"/provider", "openai"},
        {"/usage", J(R"({"input_tokens":30,"output_tokens":7})")},
        {"/input", "Say hi"},
        {"/output", J(R"({"text":"hi"})")},
        {"/attributes/gen_ai.prompt", kAbsent},
        {"/attributes/gen_ai.system", kAbsent}}},
      {"request model only, token counts as strings",
       {{"gen_ai.request.model", "claude-sonnet-4"},
        {"gen_ai.usage.input_tokens", "42"},
        {"gen_ai.usage.output_tokens", V::Double(8)}},
       {{"/model", "claude-sonnet-4"}, {"/usage", J(R"({"input_tokens":42,"output_tokens":8})")}}},
      {"anthropic input excluding the cache is converted",
       {{"gen_ai.provider.name", "anthropic"},
        {"gen_ai.request.model", "claude-3-5-sonnet"},
        {"gen_ai.usage.input_tokens", V::Int(10)},
        {"gen_ai.usage.cache_read.input_tokens", V::Int(1000)},
        {"gen_ai.usage.cache_creation_input_tokens", V::Int(200)},
        {"gen_ai.usage.output_tokens", V::Int(5)}},
       {{"/usage", J(R"({"input_tokens":1210,"output_tokens":5,"cache_read_tokens":1000,"cache_write_tokens":200})")}}},
      {"operations decide the type",
       {{"gen_ai.operation.name", "embeddings"}, {"gen_ai.request.model", "text-embedding-3-small"}},
       {{"/type", "embedding"}}},
  });
}

TEST(OtlpMappingTest, ProviderNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"openai", "openai"},
      {"OpenAI", "openai"},
      {"anthropic", "anthropic"},
      {"vertexai", "gcp.vertex_ai"},
      {"vertex_ai", "gcp.vertex_ai"},
      {"gemini", "gcp.gemini"},
      {"google", "gcp.gen_ai"},
      {"mistralai", "mistral_ai"},
      {"aws", "aws.bedrock"},
      {"Bedrock", "aws.bedrock"},
      {"az.ai.openai", "azure.ai.openai"},
      {"azure", "azure.ai.openai"},
      {"az.ai.inference", "azure.ai.inference"},
      {"xai", "x_ai"},
      {"Groq", "groq"},
      {"SomethingNew", "somethingnew"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(NormalizeProvider(in), out) << in;
  // llm.provider / llm.system go through the same table, after the GenAI names.
  RunCases({{"openinference provider", {{"llm.provider", "mistralai"}}, {{"/provider", "mistral_ai"}}},
            {"llm.system", {{"llm.system", "vertexai"}}, {{"/provider", "gcp.vertex_ai"}}},
            {"gen_ai.provider.name first",
             {{"llm.provider", "azure"}, {"gen_ai.system", "openai"}, {"gen_ai.provider.name", "azure.ai.openai"}},
             {{"/provider", "azure.ai.openai"},
              {"/attributes/gen_ai.system", "openai"},
              {"/attributes/llm.provider", "azure"}}}});
}

TEST(OtlpMappingTest, OpenInference) {
  RunCases({
      {"llm span",
       {{"openinference.span.kind", "LLM"},
        {"llm.model_name", "gpt-4o-mini"},
        {"llm.provider", "openai"},
        {"llm.token_count.prompt", V::Int(200)},
        {"llm.token_count.completion", V::Int(40)},
        {"llm.token_count.total", V::Int(240)},
        {"llm.token_count.prompt_details.cache_read", V::Int(100)},
        {"llm.token_count.prompt_details.cache_write", V::Int(10)},
        {"llm.token_count.completion_details.reasoning", V::Int(12)},
        {"llm.invocation_parameters", R"({"temperature":0.5,"top_p":0.9})"},
        {"input.value", R"({"messages":[{"role":"user","content":"q"}]})"},
        {"input.mime_type", "application/json"},
        {"output.value", "{not json, plain text}"},
        {"output.mime_type", "text/plain"},
        {"session.id", "s-1"},
        {"user.id", "u-1"},
        {"tag.tags", V::Array({"a", "b"})},
        {"metadata", R"({"team":"search","run":3})"},
        {"llm.input_messages.0.message.role", "user"}},
       {{"/type", "generation"},
        {"/model", "gpt-4o-mini"},
        {"/provider", "openai"},
        {"/usage", J(R"({"input_tokens":200,"output_tokens":40,"cache_read_tokens":100,"cache_write_tokens":10,
                         "reasoning_tokens":12,"total_tokens":240})")},
        {"/model_parameters", J(R"({"temperature":0.5,"top_p":0.9})")},
        // Issue 21: llm.input_messages.* are the input (they were left in
        // attributes); input.value, then not taken, stays as sent.
        {"/input", J(R"([{"role":"user"}])")},
        {"/attributes/input.value", R"({"messages":[{"role":"user","content":"q"}]})"},
        {"/output", "{not json, plain text}"},
        {"/session_id", "s-1"},
        {"/user_id", "u-1"},
        {"/tags", J(R"(["a","b"])")},
        {"/attributes/team", "search"},
        {"/attributes/run", 3},
        {"/attributes/metadata", kAbsent},
        {"/attributes/input.mime_type", "application/json"},
        {"/attributes/openinference.span.kind", "LLM"},
        {"/attributes/llm.input_messages.0.message.role", kAbsent}}},
      {"input.value without a mime type stays a string",
       {{"openinference.span.kind", "CHAIN"}, {"input.value", R"({"a":1})"}},
       {{"/type", "chain"}, {"/input", R"({"a":1})"}}},
      {"EMBEDDING", {{"openinference.span.kind", "EMBEDDING"}}, {{"/type", "embedding"}}},
      {"RETRIEVER", {{"openinference.span.kind", "RETRIEVER"}}, {{"/type", "retrieval"}}},
      {"RERANKER", {{"openinference.span.kind", "RERANKER"}}, {{"/type", "retrieval"}}},
      {"TOOL", {{"openinference.span.kind", "TOOL"}}, {{"/type", "tool"}}},
      {"AGENT", {{"openinference.span.kind", "AGENT"}}, {{"/type", "agent"}}},
      {"GUARDRAIL", {{"openinference.span.kind", "GUARDRAIL"}}, {{"/type", "guardrail"}}},
      {"EVALUATOR", {{"openinference.span.kind", "EVALUATOR"}}, {{"/type", "evaluator"}}},
      {"UNKNOWN", {{"openinference.span.kind", "UNKNOWN"}}, {{"/type", "span"}}},
      {"cost",
       {{"llm.cost.prompt", V::Double(0.5)}, {"llm.cost.completion", V::Double(0.25)}},
       {{"/cost", J(R"({"total":0.75,"input":0.5,"output":0.25})")}}},
  });
}

TEST(OtlpMappingTest, Langfuse) {
  RunCases({
      {"generation",
       {{"langfuse.observation.type", "generation"},
        {"langfuse.observation.model.name", "gpt-4o"},
        {"gen_ai.request.model", "gpt-4o-request"},
        {"langfuse.observation.model.parameters", R"({"temperature":0,"max_tokens":"inf"})"},
        {"langfuse.observation.usage_details",
         R"({"input":80,"input_cache_read":20,"input_cache_creation":4,"output":50,"output_reasoning":10,"total":164})"},
        {"langfuse.observation.cost_details", R"({"input":0.5,"output":0.25,"input_cache_read":0.125})"},
        {"langfuse.observation.input", R"([{"role":"user","content":"hi"}])"},
        {"langfuse.observation.output", "plain answer"},
        {"langfuse.observation.metadata.customer", "acme"},
        {"langfuse.observation.metadata.attempt", V::Int(2)},
        {"langfuse.session.id", "lf-session"},
        {"session.id", "otel-session"},
        {"langfuse.user.id", "lf-user"},
        {"langfuse.environment", "staging"},
        {"langfuse.release", "v9"},
        {"langfuse.trace.name", "my-trace"},
        {"langfuse.trace.public", V::Bool(true)},
        {"langfuse.trace.tags", V::Array({"t1", "t2"})},
        {"langfuse.trace.metadata.k", "v"},
        {"langfuse.version", "3"}},
       {{"/type", "generation"},
        {"/model", "gpt-4o"},
        {"/model_parameters", J(R"({"temperature":0,"max_tokens":"inf"})")},
        {"/usage", J(R"({"input_tokens":104,"output_tokens":60,"cache_read_tokens":20,"cache_write_tokens":4,
                         "reasoning_tokens":10,"total_tokens":164})")},
        {"/cost", J(R"({"total":0.875,"input":0.5,"output":0.25,"cache_read":0.125})")},
        {"/input/0/content", "hi"},
        {"/output", "plain answer"},
        {"/attributes/customer", "acme"},
        {"/attributes/attempt", 2},
        {"/attributes/langfuse.observation.usage_details", kAbsent},
        {"/attributes/gen_ai.request.model", "gpt-4o-request"},
        {"/attributes/session.id", "otel-session"},
        {"/attributes/langfuse.trace.name", "my-trace"},
        {"/attributes/langfuse.trace.public", true},
        {"/attributes/langfuse.trace.metadata.k", "v"},
        {"/attributes/langfuse.version", "3"},
        {"/session_id", "lf-session"},
        {"/user_id", "lf-user"},
        {"/environment", "staging"},
        {"/release", "v9"},
        {"/tags", J(R"(["t1","t2"])")}}},
      {"OpenAI-shaped usage details are inclusive; unknown buckets keep the raw attribute",
       {{"langfuse.observation.usage_details",
         R"({"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":30,"audio_tokens":1}})"}},
       {{"/type", "span"},
        {"/usage", J(R"({"input_tokens":100,"output_tokens":20,"cache_read_tokens":30})")},
        {"/attributes/langfuse.observation.usage_details",
         R"({"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":30,"audio_tokens":1}})"}}},
      {"level ERROR",
       {{"langfuse.observation.level", "ERROR"}, {"langfuse.observation.status_message", "rate limited"}},
       {{"/status", "error"},
        {"/error", "rate limited"},
        {"/attributes/langfuse.observation.level", kAbsent},
        {"/attributes/langfuse.observation.status_message", kAbsent}}},
      {"level WARNING is kept",
       {{"langfuse.observation.level", "WARNING"}, {"langfuse.observation.status_message", "slow"}},
       {{"/status", "ok"}, {"/error", kAbsent}, {"/attributes/langfuse.observation.level", "WARNING"}}},
      {"usage_details wins over gen_ai.usage",
       {{"langfuse.observation.usage_details", R"({"input":5,"output":6})"},
        {"gen_ai.usage.input_tokens", V::Int(999)}},
       {{"/usage", J(R"({"input_tokens":5,"output_tokens":6})")}, {"/attributes/gen_ai.usage.input_tokens", 999}}},
      {"tags from a JSON string, environment from the resource",
       {{"langfuse.trace.tags", R"(["x"])"}},
       {{"/tags", J(R"(["x"])")}, {"/environment", "prod"}, {"/attributes/resource.deployment.environment", kAbsent}},
       0,
       "",
       {},
       {{"deployment.environment", "prod"}}},
  });
}

TEST(OtlpMappingTest, BrokleAndTypeDecisionOrder) {
  RunCases({
      {"brokle type",
       {{"brokle.span.type", "tool"}, {"brokle.project", "p"}},
       {{"/type", "tool"}, {"/attributes/brokle.project", "p"}, {"/attributes/brokle.span.type", kAbsent}}},
      {"langfuse type beats everything",
       {{"langfuse.observation.type", "span"},
        {"openinference.span.kind", "LLM"},
        {"gen_ai.operation.name", "chat"},
        {"gen_ai.request.model", "m"}},
       {{"/type", "span"}}},
      {"langfuse before brokle",
       {{"brokle.span.type", "agent"}, {"langfuse.observation.type", "retriever"}},
       {{"/type", "retrieval"}, {"/attributes/brokle.span.type", "agent"}}},
      {"unknown explicit type falls through",
       {{"langfuse.observation.type", "mystery"}, {"openinference.span.kind", "AGENT"}},
       {{"/type", "agent"}, {"/attributes/langfuse.observation.type", "mystery"}}},
      {"openinference before operation",
       {{"openinference.span.kind", "TOOL"}, {"gen_ai.operation.name", "chat"}},
       {{"/type", "tool"}}},
      {"operation before model",
       {{"gen_ai.operation.name", "execute_tool"}, {"gen_ai.request.model", "m"}},
       {{"/type", "tool"}}},
      {"invoke_agent", {{"gen_ai.operation.name", "invoke_agent"}}, {{"/type", "agent"}}},
      {"generate_content", {{"gen_ai.operation.name", "generate_content"}}, {{"/type", "generation"}}},
      {"traceloop workflow", {{"traceloop.span.kind", "workflow"}}, {{"/type", "chain"}}},
      {"model alone", {{"llm.model_name", "m"}}, {{"/type", "generation"}}},
      {"nothing", {{"http.method", "GET"}}, {{"/type", "span"}}},
      {"every langfuse type", {{"langfuse.observation.type", "EVALUATOR"}}, {{"/type", "evaluator"}}},
      {"event", {{"langfuse.observation.type", "event"}}, {{"/type", "event"}}},
      {"guardrail", {{"langfuse.observation.type", "guardrail"}}, {{"/type", "guardrail"}}},
      {"embedding", {{"langfuse.observation.type", "embedding"}}, {{"/type", "embedding"}}},
      {"chain", {{"langfuse.observation.type", "chain"}}, {{"/type", "chain"}}},
  });
}

TEST(OtlpMappingTest, InconsistentUsageKeepsTheSpan) {
  RunCases({
      {"cache read above input",
       {{"gen_ai.usage.input_tokens", V::Int(10)}, {"gen_ai.usage.cache_read.input_tokens", V::Int(50)}},
       {{"/usage", J(R"({"input_tokens":10})")}, {"/attributes/gen_ai.usage.cache_read.input_tokens", 50}}},
      {"cache read without input",
       {{"gen_ai.usage.output_tokens", V::Int(10)}, {"gen_ai.usage.cache_read.input_tokens", V::Int(5)}},
       {{"/usage", J(R"({"output_tokens":10})")}, {"/attributes/gen_ai.usage.cache_read.input_tokens", 5}}},
      {"read + write above input",
       {{"llm.token_count.prompt", V::Int(10)},
        {"llm.token_count.prompt_details.cache_read", V::Int(6)},
        {"llm.token_count.prompt_details.cache_write", V::Int(6)}},
       {{"/usage", J(R"({"input_tokens":10,"cache_read_tokens":6})")},
        {"/attributes/llm.token_count.prompt_details.cache_write", 6}}},
      {"reasoning above output",
       {{"gen_ai.usage.output_tokens", V::Int(3)}, {"gen_ai.usage.reasoning.output_tokens", V::Int(4)}},
       {{"/usage", J(R"({"output_tokens":3})")}, {"/attributes/gen_ai.usage.reasoning.output_tokens", 4}}},
      {"total below input",
       {{"llm.token_count.prompt", V::Int(10)}, {"llm.token_count.total", V::Int(5)}},
       {{"/usage", J(R"({"input_tokens":10})")}, {"/attributes/llm.token_count.total", 5}}},
      {"negative and non-numeric counts stay attributes",
       {{"gen_ai.usage.input_tokens", V::Int(-1)}, {"gen_ai.usage.output_tokens", "many"}},
       {{"/usage", kAbsent}, {"/attributes/gen_ai.usage.input_tokens", -1}}},
  });
}

TEST(OtlpMappingTest, StatusAndExceptions) {
  TestEvent exception{"exception",
                      1'700'000'000'700'000'000ULL,
                      {{"exception.type", "KeyError"},
                       {"exception.message", "'x'"},
                       {"exception.stacktrace", "Traceback..."},
                       {"exception.escaped", V::Bool(true)}}};
  TestEvent other{"retry", 1'700'000'000'100'000'000ULL, {{"attempt", V::Int(1)}}};
  RunCases({
      {"error with exception event",
       {},
       {{"/status", "error"},
        {"/error", J(R"({"type":"KeyError","message":"'x'","stacktrace":"Traceback...","escaped":true,
                         "status_message":"failed"})")},
        {"/attributes/otel.events",
         J(R"([{"name":"retry","time":"2023-11-14T22:13:20.1Z","attributes":{"attempt":1}}])")}},
       2,
       "failed",
       {other, exception}},
      {"error without event", {}, {{"/status", "error"}, {"/error", "failed"}}, 2, "failed"},
      {"error without anything", {}, {{"/status", "error"}, {"/error", kAbsent}}, 2},
      {"ok with a handled exception keeps it as an event",
       {},
       {{"/status", "ok"},
        {"/error", kAbsent},
        {"/attributes/otel.events/0/name", "exception"},
        {"/attributes/otel.status_message", "all good"}},
       1,
       "all good",
       {exception}},
  });
  // The canonical decoder agrees.
  TestSpan s;
  s.status_code = 2;
  s.events = {exception};
  json c = Canonical(MapOne(s).dump());
  EXPECT_EQ(c["status"], "error");
  EXPECT_EQ(c["error"]["type"], "KeyError");
}

TEST(OtlpMappingTest, CanonicalUsageCostAndModel) {
  TestSpan s;
  s.attrs = {{"gen_ai.provider.name", "openai"},
             {"gen_ai.request.model", "gpt-4o"},
             {"gen_ai.usage.input_tokens", V::Int(100)},
             {"gen_ai.usage.output_tokens", V::Int(20)}};
  json c = Canonical(MapOne(s).dump());
  EXPECT_EQ(c["model"], "gpt-4o");
  EXPECT_EQ(c["provider"], "openai");
  EXPECT_EQ(c["type"], "generation");
  EXPECT_EQ(c["usage"], J(R"({"input_tokens":100,"output_tokens":20,"total_tokens":120})"));
  EXPECT_FALSE(c.contains("cost"));  // no enricher here and no client cost

  s.attrs.push_back({"gen_ai.usage.cost", V::Double(0.0125)});
  c = Canonical(MapOne(s).dump());
  EXPECT_EQ(c["cost"], J(R"({"total":0.0125,"currency":"USD","source":"client"})"));

  // Langfuse's exclusive buckets become an inclusive input the decoder accepts.
  s.attrs = {{"langfuse.observation.type", "generation"},
             {"langfuse.observation.model.name", "claude-sonnet-4"},
             {"gen_ai.provider.name", "anthropic"},
             {"langfuse.observation.usage_details",
              R"({"input":10,"cache_read_input_tokens":300,"cache_creation_input_tokens":50,"output":7})"}};
  c = Canonical(MapOne(s).dump());
  EXPECT_EQ(c["usage"], J(R"({"input_tokens":360,"output_tokens":7,"cache_read_tokens":300,"cache_write_tokens":50,
                              "total_tokens":367})"));
}

}  // namespace
}  // namespace spanvault::otlp::testing
