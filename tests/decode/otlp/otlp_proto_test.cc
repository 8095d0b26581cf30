// DecodeOtlpProto: span fields, value types, id checks, malformed input, and
// the ExportTraceServiceResponse encoders.
#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>

#include "otlp_test_util.h"

namespace spanvault::otlp::testing {
namespace {

TEST(OtlpProtoTest, MapsSpanResourceAndScopeFields) {
  TestRequest r;
  r.resource = {{"service.name", "checkout"},
                {"service.version", "1.4.2"},
                {"deployment.environment.name", "prod"},
                {"host.name", "web-1"}};
  TestSpan s;
  s.parent_span_id = "AAAABBBBCCCCDDDD";
  s.name = "GET /cart";
  s.kind = 3;
  s.start = 1'700'000'000'123'456'789ULL;
  s.end = 1'700'000'001'000'000'000ULL;
  s.attrs = {{"http.method", "GET"}};
  s.dropped_attributes = 2;
  s.links = {TestLink{}};
  r.spans = {s};
  auto spans = MapProto(r);
  ASSERT_EQ(spans.size(), 1u);
  const json& j = spans[0];
  EXPECT_EQ(j["trace_id"], "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(j["span_id"], "eee19b7ec3c1b174");
  EXPECT_EQ(j["parent_span_id"], "aaaabbbbccccdddd");
  EXPECT_EQ(j["name"], "GET /cart");
  EXPECT_EQ(j["type"], "span");
  EXPECT_EQ(j["start_time"], "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(j["end_time"], "2023-11-14T22:13:21Z");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["service"], "checkout");
  EXPECT_EQ(j["release"], "1.4.2");
  EXPECT_EQ(j["environment"], "prod");
  const json& a = j["attributes"];
  EXPECT_EQ(a["http.method"], "GET");
  EXPECT_EQ(a["otel.span.kind"], "client");
  EXPECT_EQ(a["otel.scope.name"], "test-scope");
  EXPECT_EQ(a["otel.scope.version"], "1.0");
  EXPECT_EQ(a["otel.dropped_attributes_count"], 2);
  EXPECT_EQ(a["resource.host.name"], "web-1");
  EXPECT_FALSE(a.contains("resource.service.name"));
  EXPECT_EQ(a["otel.links"][0]["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(a["otel.links"][0]["span_id"], "b7ad6b7169203331");

  json c = Canonical(spans[0].dump());
  EXPECT_EQ(c["duration_ms"], 876.543211);
  EXPECT_EQ(c["start_time"], "2023-11-14T22:13:20.123456789Z");
}

TEST(OtlpProtoTest, AttributeValueTypes) {
  TestSpan s;
  s.attrs = {{"s", "text"},
             {"b", V::Bool(true)},
             {"i", V::Int(-42)},
             {"big", V::Int(int64_t{1} << 60)},
             {"d", V::Double(0.25)},
             {"nan", V::Double(std::nan(""))},
             {"bytes", V::Bytes(std::string("\x00\xff\x10", 3))},
             {"arr", V::Array({"a", V::Int(1), V::Bool(false)})},
             {"kv", V::Kvlist({{"x", V::Int(1)}, {"y", V::Kvlist({{"z", "deep"}})}})},
             {"empty_arr", V::Array({})},
             {"huge", V::Double(4.611686018427388e19)}};  // found by the fuzzer: not a bare integer literal
  json a = MapOne(s)["attributes"];
  EXPECT_EQ(a["s"], "text");
  EXPECT_EQ(a["b"], true);
  EXPECT_EQ(a["i"], -42);
  EXPECT_EQ(a["big"], "1152921504606846976");
  EXPECT_EQ(a["d"], 0.25);
  EXPECT_EQ(a["nan"], "NaN");
  EXPECT_EQ(a["bytes"], "AP8Q");
  EXPECT_EQ(a["arr"], json::parse(R"(["a",1,false])"));
  EXPECT_EQ(a["kv"], json::parse(R"({"x":1,"y":{"z":"deep"}})"));
  EXPECT_EQ(a["empty_arr"], json::array());
  EXPECT_EQ(a["huge"], 4.611686018427388e19);
}

TEST(OtlpProtoTest, RejectsSpansWithInvalidIds) {
  TestRequest r;
  TestSpan good, zero_trace, short_span, zero_span;
  zero_trace.name = "zero-trace";
  zero_trace.trace_id = std::string(32, '0');
  short_span.name = "short";
  short_span.span_id = "eee19b7e";
  zero_span.name = "zero-span";
  zero_span.span_id = std::string(16, '0');
  r.spans = {zero_trace, good, short_span, zero_span};
  OtlpSpans raw;
  auto spans = MapProto(r, &raw);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["name"], "op");
  EXPECT_EQ(raw.rejected, 3u);
  EXPECT_NE(raw.error_message.find("span \"zero-trace\": trace_id is all zero"), std::string::npos)
      << raw.error_message;
  EXPECT_NE(raw.error_message.find("span \"short\": span_id is 4 bytes (want 8)"), std::string::npos);
  EXPECT_NE(raw.error_message.find("span \"zero-span\": span_id is all zero"), std::string::npos);
}

TEST(OtlpProtoTest, ZeroOrEmptyParentIsRoot) {
  TestSpan s;
  s.parent_span_id = std::string(16, '0');
  EXPECT_FALSE(MapOne(s).contains("parent_span_id"));
  s.parent_span_id.clear();
  EXPECT_FALSE(MapOne(s).contains("parent_span_id"));
}

TEST(OtlpProtoTest, NamesAndTimesTheDecoderWouldRefuseAreRepaired) {
  TestSpan s;
  s.name = std::string(600, 'n');
  s.start = 1'700'000'002'000'000'000ULL;  // after the end
  json j = MapOne(s);
  EXPECT_EQ(j["name"].get<std::string>().size(), 512u);
  EXPECT_EQ(j["attributes"]["otel.span.name"].get<std::string>().size(), 600u);
  EXPECT_FALSE(j.contains("end_time"));
  EXPECT_EQ(j["attributes"]["otel.end_time_unix_nano"], "1700000001500000000");

  s.name = "";
  s.start = 0;
  j = MapOne(s);
  EXPECT_EQ(j["name"], "(unnamed)");
  EXPECT_FALSE(j.contains("start_time"));
  EXPECT_EQ(j["end_time"], "2023-11-14T22:13:21.5Z");
}

TEST(OtlpProtoTest, InvalidUtf8IsReplaced) {
  TestRequest r;
  TestSpan s;
  s.name = "bad \xff\xfe name";
  s.attrs = {{"k\xc3", "v\xe2\x82"}};
  r.spans = {s};
  auto spans = MapProto(r);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["name"], "bad \xEF\xBF\xBD\xEF\xBF\xBD name");
  EXPECT_EQ(spans[0]["attributes"]["k\xEF\xBF\xBD"], "v\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(OtlpProtoTest, FieldsInAnyOrderAndUnknownFieldsSkipped) {
  // ResourceSpans with scope_spans before resource, unknown fields of every
  // wire type sprinkled in.
  std::string span;
  WireWriter sw(span);
  sw.Varint(99, 7);
  sw.Bytes(5, "late-name");
  sw.Bytes(1, HexToBytes("5b8efff798038103d269b633813fc60c"));
  sw.Fixed64(98, 1);
  sw.Bytes(2, HexToBytes("eee19b7ec3c1b174"));
  sw.Bytes(97, "ignored");
  std::string scope_spans;
  WireWriter ssw(scope_spans);
  ssw.Bytes(2, span);
  ssw.Bytes(1, std::string("\x0a\x02sc", 4));  // scope { name: "sc" }
  std::string kv;
  WireWriter kw(kv);
  kw.Bytes(1, "service.name");
  kw.Bytes(2, std::string("\x0a\x03svc", 5));
  std::string resource;
  WireWriter rw(resource);
  rw.Bytes(1, kv);
  std::string rs;
  WireWriter rsw(rs);
  rsw.Bytes(2, scope_spans);
  rsw.Bytes(1, resource);
  std::string req;
  WireWriter w(req);
  w.Bytes(1, rs);
  w.Varint(2, 5);
  auto r = DecodeOtlpProto(req);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->spans.size(), 1u);
  json j = json::parse(r->spans[0]);
  EXPECT_EQ(j["name"], "late-name");
  EXPECT_EQ(j["service"], "svc");
  EXPECT_EQ(j["attributes"]["otel.scope.name"], "sc");
}

TEST(OtlpProtoTest, InstrumentationLibrarySpansOfOldSenders) {
  std::string span;
  WireWriter sw(span);
  sw.Bytes(1, HexToBytes("5b8efff798038103d269b633813fc60c"));
  sw.Bytes(2, HexToBytes("eee19b7ec3c1b174"));
  sw.Bytes(5, "old");
  std::string ils;
  WireWriter iw(ils);
  iw.Bytes(2, span);
  std::string rs;
  WireWriter rw(rs);
  rw.Bytes(1000, ils);
  std::string req;
  WireWriter w(req);
  w.Bytes(1, rs);
  auto r = DecodeOtlpProto(req);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->spans.size(), 1u);
}

TEST(OtlpProtoTest, EmptyRequestHasNoSpans) {
  auto r = DecodeOtlpProto("");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->spans.empty());
  EXPECT_EQ(r->rejected, 0u);
}

struct MalformedCase {
  const char* name;
  std::string body;
  const char* message;
};

TEST(OtlpProtoTest, MalformedInputIsAnError) {
  std::string valid = ToProto(TestRequest{{}, "s", "1", {TestSpan{}}});
  std::string name_as_varint;
  {
    std::string span;
    WireWriter sw(span);
    sw.Varint(5, 1);
    std::string ss;
    WireWriter s(ss);
    s.Bytes(2, span);
    std::string rs;
    WireWriter r(rs);
    r.Bytes(2, ss);
    WireWriter(name_as_varint).Bytes(1, rs);
  }
  const MalformedCase cases[] = {
      {"truncated varint", std::string("\x08\xff\xff", 3), "truncated varint"},
      {"truncated key", std::string("\x80", 1), "truncated field key"},
      {"length beyond end", std::string("\x0a\x10\x01\x02", 4), "length beyond the end"},
      {"resource_spans as varint", std::string("\x08\x01", 2), "wrong wire type 0 for ExportTraceServiceRequest"},
      {"span name as varint", name_as_varint, "wrong wire type 0 for Span.name"},
      {"start group", std::string("\x0b\x0c", 2), "unsupported wire type"},
      {"nested group", std::string("\x0a\x02\x13\x14", 4), "unsupported wire type"},
      {"truncated fixed64", std::string("\x09\x01\x02", 3), "truncated fixed64"},
      {"field number 0", std::string("\x02\x00", 2), "bad field number"},
  };
  for (const auto& c : cases) {
    auto r = DecodeOtlpProto(c.body);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, Error::Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << c.name << ": " << r.error().message;
  }
  // Every truncation of a valid request is either a valid prefix or an error.
  for (size_t n = 0; n < valid.size(); ++n) {
    auto r = DecodeOtlpProto(valid.substr(0, n));
    if (r) {
      for (const auto& s : r->spans) ExpectAccepted(s);
    }
  }
}

TEST(OtlpProtoTest, ValuesNestedTooDeepRejectTheSpan) {
  V v = "leaf";
  for (int i = 0; i < 70; ++i) v = V::Array({v});
  TestRequest r;
  TestSpan deep, ok;
  deep.name = "deep";
  deep.attrs = {{"x", v}};
  r.spans = {deep, ok};
  OtlpSpans raw;
  auto spans = MapProto(r, &raw);
  EXPECT_EQ(spans.size(), 1u);
  EXPECT_EQ(raw.rejected, 1u);
  EXPECT_NE(raw.error_message.find("nests deeper than 64"), std::string::npos) << raw.error_message;

  // Within the limit but deeper than the canonical span may nest: cut with a marker.
  v = "leaf";
  for (int i = 0; i < 63; ++i) v = V::Array({v});
  TestSpan s;
  s.attrs = {{"x", v}};
  std::string dumped = MapOne(s)["attributes"]["x"].dump();
  EXPECT_NE(dumped.find("[nesting too deep]"), std::string::npos);
}

TEST(OtlpProtoTest, ExportResponse) {
  EXPECT_EQ(EncodeExportResponseProto(0, "ignored"), "");
  std::string resp = EncodeExportResponseProto(3, "bad ids");
  WireReader r(resp);
  WireField f;
  ASSERT_TRUE(r.Next(f));
  EXPECT_EQ(f.number, 1u);
  ASSERT_EQ(f.type, WireType::kLen);
  WireReader inner(f.bytes);
  WireField g;
  ASSERT_TRUE(inner.Next(g));
  EXPECT_EQ(g.number, 1u);
  EXPECT_EQ(g.varint, 3u);
  ASSERT_TRUE(inner.Next(g));
  EXPECT_EQ(g.number, 2u);
  EXPECT_EQ(g.bytes, "bad ids");
  EXPECT_FALSE(inner.Next(g));
  EXPECT_TRUE(inner.ok());
  EXPECT_FALSE(r.Next(f));

  EXPECT_EQ(EncodeExportResponseJson(0, ""), "{}");
  EXPECT_EQ(json::parse(EncodeExportResponseJson(2, "span \"x\": bad")),
            json::parse(R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"span \"x\": bad"}})"));
}

// A realistic GenAI span of about 1 KB.
TestSpan GenAiSpan(int i) {
  TestSpan s;
  char id[17];
  std::snprintf(id, sizeof id, "%016x", i + 1);
  s.span_id = id;
  s.parent_span_id = "eee19b7ec3c1b174";
  s.name = "chat gpt-4o-mini";
  s.kind = 3;
  s.attrs = {
      {"gen_ai.operation.name", "chat"},
      {"gen_ai.provider.name", "openai"},
      {"gen_ai.request.model", "gpt-4o-mini"},
      {"gen_ai.response.model", "gpt-4o-mini-2024-07-18"},
      {"gen_ai.request.temperature", V::Double(0.7)},
      {"gen_ai.request.max_tokens", V::Int(512)},
      {"gen_ai.response.id", "chatcmpl-AbCdEf0123456789"},
      {"gen_ai.response.finish_reasons", V::Array({"stop"})},
      {"gen_ai.usage.input_tokens", V::Int(812)},
      {"gen_ai.usage.output_tokens", V::Int(164)},
      {"gen_ai.usage.cache_read.input_tokens", V::Int(512)},
      {"gen_ai.conversation.id", "conv-7f3a9c"},
      {"server.address", "api.openai.com"},
      {"gen_ai.input.messages",
       R"([{"role":"system","parts":[{"type":"text","content":"You are a helpful assistant for an online shop."}]},)"
       R"({"role":"user","parts":[{"type":"text","content":"Where is my order #12345? It was due yesterday."}]}])"},
      {"gen_ai.output.messages",
       R"([{"role":"assistant","parts":[{"type":"text","content":"Your order shipped this morning and should )"
       R"(arrive within two days."}],"finish_reason":"stop"}])"}};
  return s;
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Run with --gtest_also_run_disabled_tests to print the decode rate (per
// CPU-second of this process, so other load on the machine matters less).
TEST(OtlpProtoTest, DISABLED_DecodeBenchmark) {
  TestRequest r;
  r.resource = {{"service.name", "shop-assistant"}, {"telemetry.sdk.language", "python"}};
  for (int i = 0; i < 512; ++i) r.spans.push_back(GenAiSpan(i));
  std::string body = ToProto(r);
  auto run = [&](auto&& decode, const char* what) {
    constexpr int kRounds = 200;
    double t0 = CpuSeconds();
    size_t n = 0;
    for (int i = 0; i < kRounds; ++i) n += decode()->spans.size();
    double secs = CpuSeconds() - t0;
    std::printf("%s: %zu-byte request of 512 spans (%.0f B/span): %.0f spans/s\n", what, body.size(),
                static_cast<double>(body.size()) / 512, static_cast<double>(n) / secs);
  };
  run([&] { return DecodeOtlpProto(body); }, "DecodeOtlpProto");
  std::string json_body = ToJson(r).dump();
  run([&] { return DecodeOtlpJson(json_body); }, "DecodeOtlpJson");
  // End to end with the canonical decode of every produced span.
  span::Decoder decoder;
  double t0 = CpuSeconds();
  size_t n = 0;
  for (int i = 0; i < 200; ++i) {
    auto out = DecodeOtlpProto(body);
    span::Batch batch;
    for (const auto& s : out->spans) n += decoder.Decode(s, span::Source{}, 1, batch).accepted;
  }
  double secs = CpuSeconds() - t0;
  std::printf("DecodeOtlpProto + span::Decoder: %.0f spans/s\n", static_cast<double>(n) / secs);
}

}  // namespace
}  // namespace spanvault::otlp::testing
