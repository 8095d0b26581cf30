#include "span/decoder.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/util.h"

namespace spanvault::span {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

struct Decoded {
  std::vector<json> spans;
  std::vector<Rejection> rejections;
};

Decoded DecodeOne(std::string_view payload, Limits limits = {}, Source source = {}) {
  Decoder d(limits);
  Batch b;
  DecodeResult r = d.Decode(payload, source, kNow, b);
  Decoded out;
  for (size_t i = 0; i < b.spans.size(); ++i) {
    json j = json::parse(b.SpanAt(i), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "encoder wrote invalid JSON: " << b.SpanAt(i);
    out.spans.push_back(j);
  }
  for (auto& q : b.quarantine) out.rejections.push_back(q.rejection);
  EXPECT_EQ(r.accepted, out.spans.size());
  EXPECT_EQ(r.rejected, out.rejections.size());
  return out;
}

json Accept(std::string_view payload) {
  Decoded d = DecodeOne(payload);
  EXPECT_EQ(d.spans.size(), 1u) << payload;
  EXPECT_TRUE(d.rejections.empty()) << payload << " -> " << (d.rejections.empty() ? "" : d.rejections[0].reason);
  return d.spans.empty() ? json() : d.spans[0];
}

// ---- rejections: every rule has a precise reason -------------------------

struct RejectCase {
  const char* payload;
  RejectKind kind;
  const char* reason;  // exact expected reason
};

class RejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(RejectTest, GivesPreciseReason) {
  const RejectCase& c = GetParam();
  Decoded d = DecodeOne(c.payload);
  ASSERT_EQ(d.spans.size(), 0u) << c.payload;
  ASSERT_EQ(d.rejections.size(), 1u) << c.payload;
  EXPECT_EQ(d.rejections[0].kind, c.kind) << c.payload;
  EXPECT_EQ(d.rejections[0].reason, c.reason) << c.payload;
  EXPECT_FALSE(d.rejections[0].excerpt.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Rules, RejectTest,
    ::testing::Values(
        RejectCase{R"({})", RejectKind::kSchema, "name is required"},
        RejectCase{R"({"name":""})", RejectKind::kSchema, "name must not be empty"},
        RejectCase{R"({"name":5})", RejectKind::kSchema, "name must be a string, got number"},
        RejectCase{R"({"name":"a","trace_id":""})", RejectKind::kSchema, "trace_id must not be empty"},
        RejectCase{R"({"name":"a","trace_id":7})", RejectKind::kSchema, "trace_id must be a string, got number"},
        RejectCase{R"({"name":"a","span_id":[]})", RejectKind::kSchema, "span_id must be a string, got array"},
        RejectCase{R"({"name":"a","type":"llm"})", RejectKind::kSchema,
                   "type \"llm\" is not one of span, generation, embedding, retrieval, tool, agent, chain, "
                   "guardrail, evaluator, event"},
        RejectCase{R"({"name":"a","start_time":"yesterday"})", RejectKind::kSchema,
                   "start_time \"yesterday\" is not an RFC 3339 time"},
        RejectCase{R"({"name":"a","start_time":"2024-02-30T00:00:00Z"})", RejectKind::kSchema,
                   "start_time \"2024-02-30T00:00:00Z\" is not an RFC 3339 time"},
        RejectCase{R"({"name":"a","start_time":1732355831000})", RejectKind::kSchema,
                   "start_time 1732355831000 is out of range (expected Unix seconds)"},
        RejectCase{R"({"name":"a","start_time":-1})", RejectKind::kSchema,
                   "start_time -1 is out of range (expected Unix seconds)"},
        RejectCase{R"({"name":"a","end_time":true})", RejectKind::kSchema,
                   "end_time must be an RFC 3339 string or Unix seconds, got boolean"},
        RejectCase{R"({"name":"a","start_time":"2024-05-01T12:00:01Z","end_time":"2024-05-01T12:00:00Z"})",
                   RejectKind::kSchema, "end_time (2024-05-01T12:00:00Z) is before start_time (2024-05-01T12:00:01Z)"},
        RejectCase{R"({"name":"a","status":"failed"})", RejectKind::kSchema,
                   "status must be \"ok\" or \"error\", got \"failed\""},
        RejectCase{R"({"name":"a","error":42})", RejectKind::kSchema,
                   "error must be a string or an object, got number"},
        RejectCase{R"({"name":"a","attributes":[1]})", RejectKind::kSchema, "attributes must be an object, got array"},
        RejectCase{R"({"name":"a","metadata":"x"})", RejectKind::kSchema, "metadata must be an object, got string"},
        RejectCase{R"({"name":"a","tags":["ok",3]})", RejectKind::kSchema, "tags[1] must be a string, got number"},
        RejectCase{R"({"name":"a","tags":"x"})", RejectKind::kSchema, "tags must be an array of strings, got string"},
        RejectCase{R"({"name":"a","span_parents":[""]})", RejectKind::kSchema, "span_parents[0] must be 1-128 bytes"},
        RejectCase{R"({"name":"a","model":{}})", RejectKind::kSchema, "model must be a string, got object"},
        RejectCase{R"({"name":"a","model_parameters":3})", RejectKind::kSchema,
                   "model_parameters must be an object, got number"},
        RejectCase{R"({"name":"a","usage":[]})", RejectKind::kSchema, "usage must be an object, got array"},
        RejectCase{R"({"name":"a","usage":{"input_tokens":-3}})", RejectKind::kSchema,
                   "usage.input_tokens must be a non-negative integer, got -3"},
        RejectCase{R"({"name":"a","usage":{"input_tokens":1.5}})", RejectKind::kSchema,
                   "usage.input_tokens must be a non-negative integer, got 1.5"},
        RejectCase{R"({"name":"a","usage":{"output_tokens":"12"}})", RejectKind::kSchema,
                   "usage.output_tokens must be a non-negative integer, got \"12\""},
        RejectCase{R"({"name":"a","usage":{"input_tokens":100,"cache_read_tokens":120}})", RejectKind::kSchema,
                   "usage.cache_read_tokens (120) exceeds usage.input_tokens (100)"},
        RejectCase{R"({"name":"a","usage":{"input_tokens":100,"cache_write_tokens":101}})", RejectKind::kSchema,
                   "usage.cache_write_tokens (101) exceeds usage.input_tokens (100)"},
        RejectCase{R"({"name":"a","usage":{"input_tokens":100,"cache_read_tokens":60,"cache_write_tokens":50}})",
                   RejectKind::kSchema,
                   "usage.cache_read_tokens + usage.cache_write_tokens (110) exceed usage.input_tokens (100)"},
        RejectCase{R"({"name":"a","usage":{"output_tokens":10,"reasoning_tokens":11}})", RejectKind::kSchema,
                   "usage.reasoning_tokens (11) exceeds usage.output_tokens (10)"},
        RejectCase{
            R"({"name":"a","usage":{"completion_tokens":10,"completion_tokens_details":{"reasoning_tokens":11}}})",
            RejectKind::kSchema, "usage.reasoning_tokens (11) exceeds usage.output_tokens (10)"},
        RejectCase{R"({"name":"a","usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":11}}})",
                   RejectKind::kSchema, "usage.cache_read_tokens (11) exceeds usage.input_tokens (10)"},
        RejectCase{R"({"name":"a","usage":{"cache_read_tokens":5}})", RejectKind::kSchema,
                   "usage.cache_read_tokens (5) given without usage.input_tokens"},
        RejectCase{R"({"name":"a","usage":{"input_tokens":5,"prompt_tokens":6}})", RejectKind::kSchema,
                   "usage.prompt_tokens (6) conflicts with usage.input_tokens (5)"},
        RejectCase{R"({"name":"a","usage":{"input_tokens":50,"total_tokens":10}})", RejectKind::kSchema,
                   "usage.input_tokens (50) exceeds usage.total_tokens (10)"},
        RejectCase{R"({"name":"a","usage":{"prompt_tokens_details":3}})", RejectKind::kSchema,
                   "usage.prompt_tokens_details must be an object, got number"},
        RejectCase{R"({"name":"a","cost":-1})", RejectKind::kSchema, "cost must not be negative, got -1"},
        RejectCase{R"({"name":"a","cost":"1$"})", RejectKind::kSchema,
                   "cost must be a number or an object, got string"},
        RejectCase{R"({"name":"a","scores":{"acc":1.5}})", RejectKind::kSchema,
                   "scores.acc (1.5) must be between 0 and 1"},
        RejectCase{R"({"name":"a","scores":{"acc":"high"}})", RejectKind::kSchema,
                   "scores.acc must be a number, got string"},
        RejectCase{R"({"name":"a","metrics":{"ttft":null}})", RejectKind::kSchema,
                   "metrics.ttft must be a number, got null"},
        RejectCase{R"({"name":"a","session_id":1})", RejectKind::kSchema, "session_id must be a string, got number"},
        RejectCase{R"({"name":"a","duration_ms":-5})", RejectKind::kSchema,
                   "duration_ms must be a non-negative number, got -5"},
        RejectCase{R"(42)", RejectKind::kSchema,
                   "payload must be a span object or an array of span objects, got number"},
        RejectCase{R"("span")", RejectKind::kSchema,
                   "payload must be a span object or an array of span objects, got string"}));

TEST(DecoderTest, SyntaxErrorNamesTheProblem) {
  Decoded d = DecodeOne(R"({"name":"a",)");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].kind, RejectKind::kSyntax);
  EXPECT_EQ(d.rejections[0].reason.rfind("invalid JSON: ", 0), 0u) << d.rejections[0].reason;
  EXPECT_EQ(d.rejections[0].excerpt, R"({"name":"a",)");
  Decoded e = DecodeOne("");
  ASSERT_EQ(e.rejections.size(), 1u);
  EXPECT_EQ(e.rejections[0].reason, "payload is empty");
}

// duration_ms * 1e6 overflowed int64 and stored an end before the start.
TEST(DecoderTest, DurationThatPutsTheEndOutOfRangeIsRefused) {
  for (const char* payload : {R"({"name":"a","start_time":"2026-01-01T00:00:00Z","duration_ms":1e13})",
                              R"({"name":"a","start_time":"2026-01-01T00:00:00Z","duration_ms":18446744073709551615})",
                              R"({"name":"a","duration_ms":1.7976931348623157e308})"}) {
    Decoded d = DecodeOne(payload);
    ASSERT_EQ(d.rejections.size(), 1u) << payload;
    EXPECT_EQ(d.rejections[0].kind, RejectKind::kSchema);
    EXPECT_NE(d.rejections[0].reason.find("puts the end past the year 2255"), std::string::npos)
        << d.rejections[0].reason;
  }
  // Found by the fuzzer (clang's float-cast-overflow): the reason printed the
  // duration through a cast to uint64, undefined past 2^64.
  Decoded huge = DecodeOne(R"([{"name":"x"},{"name":"y","duration_ms":1e22}])");
  ASSERT_EQ(huge.rejections.size(), 1u);
  EXPECT_EQ(huge.rejections[0].reason, "[1] duration_ms 1e+22 puts the end past the year 2255");
  // Long but in range: the end is after the start.
  json s = Accept(R"({"name":"a","start_time":"2026-01-01T00:00:00Z","duration_ms":86400000})");
  EXPECT_EQ(s["end_time"], "2026-01-02T00:00:00Z");
  EXPECT_EQ(s["duration_ms"], 86400000);
}

// Each element of an array is held to the per-span limit, not only the
// payload as a whole.
TEST(DecoderTest, EveryArrayElementIsHeldToMaxSpanBytes) {
  Limits limits;
  limits.max_payload_bytes = 1u << 20;
  limits.max_span_bytes = 2048;
  std::string big = R"({"name":"big","input":")" + std::string(5000, 'x') + R"("})";
  Decoded d = DecodeOne(R"([{"name":"a"},)" + big + R"(,{"name":"c"}])", limits);
  ASSERT_EQ(d.spans.size(), 2u);
  EXPECT_EQ(d.spans[0]["name"], "a");
  EXPECT_EQ(d.spans[1]["name"], "c");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].kind, RejectKind::kTooLarge);
  EXPECT_EQ(d.rejections[0].index, 1);
  EXPECT_EQ(d.rejections[0].reason.rfind("[1] span is ", 0), 0u) << d.rejections[0].reason;
  EXPECT_NE(d.rejections[0].reason.find("(max 2048)"), std::string::npos);
}

TEST(DecoderTest, NameLengthLimit) {
  std::string name(513, 'n');
  Decoded d = DecodeOne(R"({"name":")" + name + R"("})");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].reason, "name is 513 bytes (max 512)");
  EXPECT_EQ(Accept(R"({"name":")" + std::string(512, 'n') + R"("})")["name"].get<std::string>().size(), 512u);
}

TEST(DecoderTest, OpaqueIdLimit) {
  Decoded d = DecodeOne(R"({"name":"a","trace_id":")" + std::string(129, 'x') + R"("})");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].reason, "trace_id is 129 bytes (max 128)");
}

TEST(DecoderTest, InvalidUtf8IsAnEncodingError) {
  Decoded d = DecodeOne("{\"name\":\"a\xff\xfe\"}");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].kind, RejectKind::kEncoding);
  EXPECT_EQ(d.rejections[0].reason, "payload is not valid UTF-8");
}

TEST(DecoderTest, DepthLimit) {
  auto nested = [](int levels) {
    // levels counts the span object itself.
    std::string s = R"({"name":"a","input":)";
    for (int i = 1; i < levels - 1; ++i) s += "[";
    s += "1";
    for (int i = 1; i < levels - 1; ++i) s += "]";
    return s + "}";
  };
  Limits l;
  l.max_depth = 64;
  EXPECT_EQ(DecodeOne(nested(64), l).spans.size(), 1u);
  Decoded d = DecodeOne(nested(66), l);
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].kind, RejectKind::kDepth);
  EXPECT_EQ(d.rejections[0].reason, "JSON nesting exceeds the limit of 64");
  // Very deep input (100k levels) is refused without a crash.
  std::string deep(100000, '[');
  EXPECT_EQ(DecodeOne(deep).rejections.size(), 1u);
}

TEST(DecoderTest, SizeLimit) {
  Limits l;
  l.max_payload_bytes = 1000;
  std::string big = R"({"name":"a","input":")" + std::string(1000, 'x') + R"("})";
  Decoded d = DecodeOne(big, l);
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].kind, RejectKind::kTooLarge);
  EXPECT_EQ(d.rejections[0].reason, "payload is 1023 bytes (max 1000)");
  EXPECT_EQ(d.rejections[0].excerpt.size(), 1023u);  // under the 4 KiB excerpt cap
}

TEST(DecoderTest, ExcerptIsCappedAt4KiB) {
  std::string big = R"({"input":")" + std::string(10000, 'x') + R"("})";
  Decoded d = DecodeOne(big);
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].excerpt.size(), 4096u);
}

TEST(DecoderTest, BinaryGarbageNeverCrashes) {
  std::string garbage;
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    garbage.clear();
    int len = static_cast<int>(x % 300);
    for (int i = 0; i < len; ++i) {
      x = x * 1103515245 + 12345;
      garbage.push_back(static_cast<char>(x >> 16));
    }
    Decoded d = DecodeOne(garbage);
    EXPECT_EQ(d.spans.size() + d.rejections.size() >= (garbage.empty() ? 1u : 1u), true);
  }
}

// ---- normalisation ----------------------------------------------------------

TEST(DecoderTest, MinimalSpanGetsIdsTypeStatusAndTimes) {
  json s = Accept(R"({"name":"llm call"})");
  EXPECT_EQ(s["name"], "llm call");
  ASSERT_TRUE(s["trace_id"].is_string());
  EXPECT_EQ(s["trace_id"].get<std::string>().size(), 32u);
  EXPECT_EQ(s["span_id"].get<std::string>().size(), 16u);
  EXPECT_FALSE(s.contains("parent_span_id"));
  EXPECT_EQ(s["type"], "span");
  EXPECT_EQ(s["status"], "ok");
  EXPECT_EQ(s["start_time"], FormatRfc3339(kNow));  // started when it arrived
  EXPECT_EQ(s["received_at"], FormatRfc3339(kNow));
  EXPECT_EQ(s["source"]["transport"], "unix_stream");
  EXPECT_FALSE(s.contains("end_time"));
  // Two spans without ids get different ones.
  EXPECT_NE(Accept(R"({"name":"x"})")["span_id"], Accept(R"({"name":"x"})")["span_id"]);
}

TEST(DecoderTest, HexIdsAreLowercasedAndOpaqueIdsKept) {
  json s = Accept(
      R"({"name":"a","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00F067AA0BA902B7","parent_span_id":"AbCdEf0123456789"})");
  EXPECT_EQ(s["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s["span_id"], "00f067aa0ba902b7");
  EXPECT_EQ(s["parent_span_id"], "abcdef0123456789");
  json o = Accept(R"({"name":"a","trace_id":"run-42/Step","span_id":"my span"})");
  EXPECT_EQ(o["trace_id"], "run-42/Step");
  EXPECT_EQ(o["span_id"], "my span");
}

TEST(DecoderTest, EmptyOrNullParentMeansRoot) {
  EXPECT_FALSE(Accept(R"({"name":"a","parent_span_id":""})").contains("parent_span_id"));
  EXPECT_FALSE(Accept(R"({"name":"a","parent_span_id":null})").contains("parent_span_id"));
}

TEST(DecoderTest, SpanParentsFirstIsPrimaryParent) {
  json s = Accept(R"({"name":"a","span_parents":["p1","p2"]})");
  EXPECT_EQ(s["parent_span_id"], "p1");
  EXPECT_EQ(s["span_parents"], json::parse(R"(["p1","p2"])"));
  json t = Accept(R"({"name":"a","parent_span_id":"p0","span_parents":["p1"]})");
  EXPECT_EQ(t["parent_span_id"], "p0");
}

TEST(DecoderTest, TimesInBothFormats) {
  json s = Accept(R"({"name":"a","start_time":"2024-05-01T12:00:00.25+02:00","end_time":1714557601.75})");
  EXPECT_EQ(s["start_time"], "2024-05-01T10:00:00.25Z");
  EXPECT_EQ(s["end_time"], "2024-05-01T10:00:01.75Z");
  EXPECT_DOUBLE_EQ(s["duration_ms"].get<double>(), 1500.0);
}

TEST(DecoderTest, NanosecondPrecisionIsKept) {
  json s = Accept(
      R"({"name":"a","start_time":"2024-05-01T10:00:00.123456789Z","end_time":"2024-05-01T10:00:00.123456790Z"})");
  EXPECT_EQ(s["start_time"], "2024-05-01T10:00:00.123456789Z");
  EXPECT_EQ(s["end_time"], "2024-05-01T10:00:00.12345679Z");
  EXPECT_DOUBLE_EQ(s["duration_ms"].get<double>(), 0.000001);
}

TEST(DecoderTest, DurationGivesEndWhenEndIsAbsent) {
  json s = Accept(R"({"name":"a","start_time":1714557600,"duration_ms":250})");
  EXPECT_EQ(s["end_time"], "2024-05-01T10:00:00.25Z");
  EXPECT_DOUBLE_EQ(s["duration_ms"].get<double>(), 250.0);
}

TEST(DecoderTest, TypeIsCaseInsensitive) {
  EXPECT_EQ(Accept(R"({"name":"a","type":"Generation"})")["type"], "generation");
  for (const char* t :
       {"span", "generation", "embedding", "retrieval", "tool", "agent", "chain", "guardrail", "evaluator", "event"}) {
    EXPECT_EQ(Accept(std::string(R"({"name":"a","type":")") + t + "\"}")["type"], t);
  }
}

TEST(DecoderTest, StatusAndError) {
  EXPECT_EQ(Accept(R"({"name":"a","status":"success"})")["status"], "ok");
  EXPECT_EQ(Accept(R"({"name":"a","status":"ERROR"})")["status"], "error");
  json s = Accept(R"({"name":"a","status":"ok","error":"boom"})");
  EXPECT_EQ(s["status"], "error");  // an error wins
  EXPECT_EQ(s["error"], "boom");
  json o = Accept(R"({"name":"a","error":{"type":"RateLimit","message":"429"}})");
  EXPECT_EQ(o["status"], "error");
  EXPECT_EQ(o["error"]["type"], "RateLimit");
  EXPECT_EQ(Accept(R"({"name":"a","error":null})")["status"], "ok");
}

TEST(DecoderTest, UsageCanonicalAndTotalDerived) {
  json u = Accept(
      R"({"name":"a","usage":{"input_tokens":100,"output_tokens":20,"cache_read_tokens":30,"cache_write_tokens":10,"reasoning_tokens":5}})")
      ["usage"];
  EXPECT_EQ(
      u,
      json::parse(
          R"({"input_tokens":100,"output_tokens":20,"cache_read_tokens":30,"cache_write_tokens":10,"reasoning_tokens":5,"total_tokens":120})"));
}

TEST(DecoderTest, UsageOpenAIAliases) {
  json u = Accept(R"({"name":"a","usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
      "prompt_tokens_details":{"cached_tokens":40,"audio_tokens":0},
      "completion_tokens_details":{"reasoning_tokens":30}}})")["usage"];
  EXPECT_EQ(u["input_tokens"], 100);
  EXPECT_EQ(u["output_tokens"], 50);
  EXPECT_EQ(u["cache_read_tokens"], 40);
  EXPECT_EQ(u["reasoning_tokens"], 30);
  EXPECT_EQ(u["total_tokens"], 150);
  EXPECT_FALSE(u.contains("prompt_tokens"));
  // The details objects are kept as sent (they carry more than we read).
  EXPECT_EQ(u["prompt_tokens_details"]["audio_tokens"], 0);
}

TEST(DecoderTest, UsageAnthropicAliasesAddCacheToInput) {
  // Anthropic's input_tokens excludes cache reads and writes.
  json u = Accept(R"({"name":"a","provider":"anthropic","usage":{"input_tokens":10,"output_tokens":5,
      "cache_read_input_tokens":100,"cache_creation_input_tokens":20}})")["usage"];
  EXPECT_EQ(u["input_tokens"], 130);
  EXPECT_EQ(u["cache_read_tokens"], 100);
  EXPECT_EQ(u["cache_write_tokens"], 20);
  EXPECT_EQ(u["output_tokens"], 5);
  EXPECT_EQ(u["total_tokens"], 135);
  // Canonical key names mean the canonical (inclusive) convention.
  json c =
      Accept(R"({"name":"a","provider":"anthropic","usage":{"input_tokens":130,"cache_read_tokens":100}})")["usage"];
  EXPECT_EQ(c["input_tokens"], 130);
}

TEST(DecoderTest, UsageSameValueUnderTwoNamesIsFine) {
  json u = Accept(R"({"name":"a","usage":{"input_tokens":5,"prompt_tokens":5}})")["usage"];
  EXPECT_EQ(u["input_tokens"], 5);
}

TEST(DecoderTest, UsageUnknownKeysKept) {
  json u = Accept(R"({"name":"a","usage":{"input_tokens":5,"input_audio_seconds":2.5}})")["usage"];
  EXPECT_EQ(u["input_audio_seconds"], 2.5);
}

TEST(DecoderTest, UnknownFieldsGoToAttributes) {
  json s = Accept(
      R"({"name":"a","attributes":{"k":1,"dup":"explicit"},"metadata":{"m":true},"dup":"top","custom":{"x":[1,2]}})");
  EXPECT_EQ(s["attributes"], json::parse(R"({"k":1,"dup":"explicit","m":true,"custom":{"x":[1,2]}})"));
  EXPECT_FALSE(s.contains("custom"));
  EXPECT_FALSE(s.contains("metadata"));
}

TEST(DecoderTest, AnyJsonKeptAsIs) {
  json s = Accept(
      R"({"name":"a","input":[{"role":"user","content":"hi \"there\"\n\u00e9\u2028"}],"output":"ok","expected":{"n":1.25e-7,"big":18446744073709551615,"neg":-9223372036854775808}})");
  EXPECT_EQ(s["input"][0]["content"], "hi \"there\"\n\u00e9\u2028");
  EXPECT_EQ(s["output"], "ok");
  EXPECT_DOUBLE_EQ(s["expected"]["n"].get<double>(), 1.25e-7);
  EXPECT_EQ(s["expected"]["big"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(s["expected"]["neg"].get<int64_t>(), INT64_MIN);
}

TEST(DecoderTest, ClientCostIsKeptAndMarked) {
  json n = Accept(R"({"name":"a","cost":0.0042})");
  EXPECT_EQ(n["cost"], json::parse(R"({"total":0.0042,"currency":"USD","source":"client"})"));
  json o = Accept(R"({"name":"a","cost":{"total":1.5,"input":1,"output":0.5,"source":"mine"}})");
  EXPECT_EQ(o["cost"], json::parse(R"({"total":1.5,"input":1,"output":0.5,"currency":"USD","source":"client"})"));
}

TEST(DecoderTest, StringFieldsKept) {
  json s = Accept(
      R"({"name":"a","model":"gpt-4o","provider":"openai","session_id":"s","user_id":"u","environment":"prod","release":"1.2","service":"api","tags":["t1"],"scores":{"f":0.5},"metrics":{"ttft_ms":120},"model_parameters":{"temperature":0.2}})");
  EXPECT_EQ(s["model"], "gpt-4o");
  EXPECT_EQ(s["provider"], "openai");
  EXPECT_EQ(s["session_id"], "s");
  EXPECT_EQ(s["user_id"], "u");
  EXPECT_EQ(s["environment"], "prod");
  EXPECT_EQ(s["release"], "1.2");
  EXPECT_EQ(s["service"], "api");
  EXPECT_EQ(s["tags"][0], "t1");
  EXPECT_EQ(s["scores"]["f"], 0.5);
  EXPECT_EQ(s["metrics"]["ttft_ms"], 120);
  EXPECT_EQ(s["model_parameters"]["temperature"], 0.2);
}

TEST(DecoderTest, SourceCredentialsRecorded) {
  Source src;
  src.transport = Transport::kUnixDatagram;
  src.pid = 42;
  src.uid = 1000;
  src.gid = 100;
  Decoded d = DecodeOne(R"({"name":"a"})", {}, src);
  ASSERT_EQ(d.spans.size(), 1u);
  EXPECT_EQ(d.spans[0]["source"], json::parse(R"({"transport":"unix_dgram","pid":42,"uid":1000,"gid":100})"));
}

TEST(DecoderTest, ArrayPayloadAcceptsGoodAndRejectsBadElements) {
  Decoded d = DecodeOne(R"([{"name":"a"},{"nope":1},{"name":"c"},7])");
  ASSERT_EQ(d.spans.size(), 2u);
  EXPECT_EQ(d.spans[0]["name"], "a");
  EXPECT_EQ(d.spans[1]["name"], "c");
  ASSERT_EQ(d.rejections.size(), 2u);
  EXPECT_EQ(d.rejections[0].index, 1);
  EXPECT_EQ(d.rejections[0].reason, "[1] name is required");
  EXPECT_EQ(d.rejections[0].excerpt, R"({"nope":1})");
  EXPECT_EQ(d.rejections[1].reason, "[3] must be a span object, got number");
  EXPECT_EQ(DecodeOne("[]").spans.size(), 0u);
  EXPECT_EQ(DecodeOne("[]").rejections.size(), 0u);
}

// The seam to the pricing stage: what it needs of each candidate span, with
// usage normalised, and where the cost goes; no note for client costs or for
// spans that neither name a model nor are model calls.
TEST(DecoderTest, NotesWhatThePricingStageNeeds) {
  Decoder d;
  Batch b;
  d.Decode(R"({"name":"t","type":"tool"})", {}, kNow, b);
  d.Decode(R"([{"name":"a","model":"m1","provider":"p","start_time":1764000000,)"
           R"("usage":{"prompt_tokens":7}},{"name":"c","model":"m1","cost":1},{"name":"g","type":"generation"}])",
           {}, kNow, b);
  ASSERT_EQ(b.spans.size(), 4u);
  ASSERT_EQ(b.to_price.size(), 2u);
  const PriceInput& a = b.to_price[0];
  EXPECT_EQ(a.span, 1u);
  EXPECT_EQ(b.Model(a), "m1");
  EXPECT_EQ(b.Provider(a), "p");
  EXPECT_TRUE(a.has_usage);
  EXPECT_EQ(a.usage.input_tokens, 7u);
  EXPECT_EQ(a.start_ns, 1'764'000'000'000'000'000);
  // The cost goes inside span 1, right after its usage.
  ASSERT_GT(a.cost_at, b.spans[1].offset);
  ASSERT_LT(a.cost_at, b.spans[1].offset + b.spans[1].length);
  EXPECT_EQ(b.data.substr(a.cost_at, 10), R"(,"received)");
  const PriceInput& g = b.to_price[1];
  EXPECT_EQ(g.span, 3u);
  EXPECT_EQ(g.type, SpanType::kGeneration);
  EXPECT_FALSE(g.has_usage);
  EXPECT_EQ(b.Model(g), "");
  // A client cost is kept as it was sent.
  EXPECT_EQ(json::parse(b.SpanAt(2))["cost"]["source"], "client");
}

// Found by the fuzzer: the canonical output must always decode again.
TEST(DecoderTest, HugeDoublesStayDoubles) {
  json s = Accept(R"({"name":"a","x":1714507145574057401552.5})");
  std::string encoded = s.dump();
  EXPECT_EQ(DecodeOne(encoded).spans.size(), 1u);
  Decoder d;
  Batch b;
  d.Decode(R"({"name":"a","x":1714507145574057401552.5})", {}, kNow, b);
  EXPECT_NE(std::string(b.SpanAt(0)).find("\"x\":1714507145574057508864.0"), std::string::npos) << b.SpanAt(0);
}

TEST(DecoderTest, TimesOutsideInt64NanosecondsRefused) {
  Decoded d = DecodeOne(R"({"name":"a","end_time":9714557602.5})");
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].reason, "end_time 9714557602.5 is out of range (expected Unix seconds)");
  Decoded e = DecodeOne(R"({"name":"a","start_time":"1795-05-01T10:00:00Z"})");
  ASSERT_EQ(e.rejections.size(), 1u);
  EXPECT_EQ(e.rejections[0].reason, "start_time \"1795-05-01T10:00:00Z\" is out of range (1970 to 2255)");
}

TEST(DecoderTest, PaddedDecodeReadsOnlyThePayload) {
  std::string buf = R"({"name":"a"}{"name":"b"})";
  buf.resize(buf.size() + Decoder::kPadding, ' ');
  Decoder d;
  Batch b;
  d.Decode(std::string_view(buf.data(), 12), {}, kNow, b, /*padded=*/true);
  ASSERT_EQ(b.spans.size(), 1u);
  EXPECT_EQ(json::parse(b.SpanAt(0))["name"], "a");
}

}  // namespace
}  // namespace spanvault::span
