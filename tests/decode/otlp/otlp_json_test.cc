// DecodeOtlpJson: the OTLP/JSON encoding rules and its malformed inputs. The
// mapping itself is shared with the protobuf path (MapOne checks both agree).
#include <gtest/gtest.h>

#include "otlp_test_util.h"

namespace spanvault::otlp::testing {
namespace {

TestRequest Sample() {
  TestRequest r;
  r.resource = {{"service.name", "svc"}, {"host.name", "h"}};
  TestSpan s;
  s.parent_span_id = "aaaabbbbccccdddd";
  s.kind = 2;
  s.attrs = {{"gen_ai.request.model", "gpt-4o"},   {"gen_ai.usage.input_tokens", V::Int(12)},
             {"big", V::Int(-(int64_t{1} << 62))}, {"d", V::Double(1.5)},
             {"bytes", V::Bytes("hi!")},           {"arr", V::Array({"x", V::Kvlist({{"k", V::Int(3)}})})}};
  s.events = {{"exception", 1'700'000'000'500'000'000ULL, {{"exception.type", "ValueError"}}}};
  s.status_code = 2;
  s.status_message = "boom";
  r.spans = {s, TestSpan{}};
  r.spans[1].span_id = "0102030405060708";
  return r;
}

TEST(OtlpJsonTest, SameSpansAsProtobufInEveryJsonStyle) {
  TestRequest r = Sample();
  auto expected = MapProto(r);
  ASSERT_EQ(expected.size(), 2u);
  for (bool snake : {false, true}) {
    for (bool numbers : {false, true}) {
      auto got = MapJson(ToJson(r, {snake, numbers}).dump());
      EXPECT_EQ(got, expected) << "snake=" << snake << " numbers=" << numbers;
    }
  }
  EXPECT_EQ(expected[0]["type"], "generation");
  EXPECT_EQ(expected[0]["status"], "error");
  EXPECT_EQ(expected[0]["error"], json::parse(R"({"type":"ValueError","message":"boom"})"));
  EXPECT_EQ(expected[0]["attributes"]["big"], "-4611686018427387904");
  EXPECT_EQ(expected[0]["attributes"]["bytes"], "aGkh");
  EXPECT_EQ(expected[0]["attributes"]["otel.span.kind"], "server");
}

TEST(OtlpJsonTest, IdsAreCaseInsensitiveHexOrBase64) {
  json j = ToJson(Sample());
  json& span = j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  span["traceId"] = "5B8EFFF798038103D269B633813FC60C";
  span["spanId"] = "7uGbfsPBsXQ=";  // base64 of eee19b7ec3c1b174
  span["parentSpanId"] = "";
  auto spans = MapJson(j.dump());
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0]["trace_id"], "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(spans[0]["span_id"], "eee19b7ec3c1b174");
  EXPECT_FALSE(spans[0].contains("parent_span_id"));
}

TEST(OtlpJsonTest, BadIdsRejectTheSpanOnly) {
  json j = ToJson(Sample());
  json& spans = j["resourceSpans"][0]["scopeSpans"][0]["spans"];
  spans[0]["traceId"] = "not-hex-at-all!";
  spans[1].erase("spanId");
  OtlpSpans raw;
  auto out = MapJson(j.dump(), &raw);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(raw.rejected, 2u);
  EXPECT_NE(raw.error_message.find("trace_id is not hex"), std::string::npos) << raw.error_message;
  EXPECT_NE(raw.error_message.find("span_id is 0 bytes"), std::string::npos) << raw.error_message;
}

TEST(OtlpJsonTest, EnumNamesAndSpecialDoubles) {
  const char* body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{
    "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x",
    "kind":"SPAN_KIND_CONSUMER","startTimeUnixNano":1700000000000000000,
    "status":{"code":"STATUS_CODE_ERROR","message":"m"},
    "attributes":[{"key":"inf","value":{"doubleValue":"-Infinity"}},
                  {"key":"nan","value":{"doubleValue":"NaN"}},
                  {"key":"int","value":{"intValue":7}},
                  {"key":"null","value":null},
                  {"key":"empty","value":{}}]}]}]}]})";
  auto spans = MapJson(body);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["attributes"]["otel.span.kind"], "consumer");
  EXPECT_EQ(spans[0]["status"], "error");
  EXPECT_EQ(spans[0]["error"], "m");
  EXPECT_EQ(spans[0]["start_time"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(spans[0]["attributes"]["inf"], "-Infinity");
  EXPECT_EQ(spans[0]["attributes"]["nan"], "NaN");
  EXPECT_EQ(spans[0]["attributes"]["int"], 7);
  EXPECT_TRUE(spans[0]["attributes"]["null"].is_null());
  EXPECT_TRUE(spans[0]["attributes"]["empty"].is_null());
}

TEST(OtlpJsonTest, EmptyAndMinimalRequests) {
  for (const char* body : {"{}", R"({"resourceSpans":[]})", R"({"resourceSpans":null})",
                           R"({"resourceSpans":[{"scopeSpans":[{"scope":null}]}]})", R"({"unknown":1})"}) {
    auto r = DecodeOtlpJson(body);
    ASSERT_TRUE(r) << body << ": " << r.error().message;
    EXPECT_TRUE(r->spans.empty());
  }
}

TEST(OtlpJsonTest, MalformedInputIsAnError) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "invalid JSON"},
      {"{", "invalid JSON"},
      {"[]", "must be an object"},
      {R"({"resourceSpans":{}})", "resourceSpans must be an array"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":{}}]}]})", "spans must be an array"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]})", "name must be a string"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"12x"}]}]}]})", "must be an integer"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":-5}]}]}]})", "must be an integer"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"intValue":"abc"}}]}]}]}]})",
       "intValue must be an integer"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":{}}]}]}]})", "attributes must be an array"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_WHATEVER"}]}]}]})", "kind must be"},
      {"{\"resourceSpans\":[\"\xff\"]}", "invalid JSON"},
  };
  for (const auto& [body, message] : cases) {
    auto r = DecodeOtlpJson(body);
    ASSERT_FALSE(r) << body;
    EXPECT_NE(r.error().message.find(message), std::string::npos) << body << ": " << r.error().message;
  }
}

TEST(OtlpJsonTest, DeepNesting) {
  // AnyValue nesting over the limit rejects the span; JSON nesting far over
  // it is an error for the whole body.
  std::string value = R"({"stringValue":"leaf"})";
  for (int i = 0; i < 65; ++i) value = R"({"arrayValue":{"values":[)" + value + "]}}";
  std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
                     R"("spanId":"eee19b7ec3c1b174","name":"x","attributes":[{"key":"k","value":)" +
                     value + "}]}]}]}]}";
  OtlpSpans raw;
  auto spans = MapJson(body, &raw);
  EXPECT_TRUE(spans.empty());
  EXPECT_EQ(raw.rejected, 1u);
  std::string deep = std::string(1000, '[') + std::string(1000, ']');
  auto r = DecodeOtlpJson(R"({"resourceSpans":)" + deep + "}");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("deeper"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace spanvault::otlp::testing
