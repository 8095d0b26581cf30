// The bounds on what one OTLP request may make the mapping build
// (otlp::MapLimits): attribute counts, value lengths, a span's size as it is
// written, and the whole request's output.
#include <gtest/gtest.h>

#include "decode/otlp/otlp_ingest.h"
#include "tests/decode/otlp/otlp_test_util.h"

namespace spanvault::otlp::testing {
namespace {

Attrs ManyAttrs(const std::string& prefix, int n, size_t value_bytes = 8) {
  Attrs a;
  for (int i = 0; i < n; ++i) a.push_back({prefix + std::to_string(i), std::string(value_bytes, 'v')});
  return a;
}

TestRequest ManySpans(int n, Attrs resource) {
  TestRequest r;
  r.resource = std::move(resource);
  for (int i = 0; i < n; ++i) {
    TestSpan s;
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i + 1);
    s.span_id = id;
    r.spans.push_back(s);
  }
  return r;
}

size_t CountPrefix(const json& attrs, const std::string& prefix) {
  size_t n = 0;
  for (auto& [k, v] : attrs.items()) n += k.rfind(prefix, 0) == 0;
  return n;
}

TEST(OtlpLimitsTest, AttributeCountsAreCappedPerSpanResourceAndScope) {
  TestRequest r = ManySpans(1, ManyAttrs("r", 1000));
  r.spans[0].attrs = ManyAttrs("s", 500);
  for (int part = 0; part < 2; ++part) {
    IngestLimits limits;  // default: 128
    auto out = part == 0 ? DecodeOtlpProto(ToProto(r), limits) : DecodeOtlpJson(ToJson(r).dump(), limits);
    ASSERT_TRUE(out.has_value()) << out.error().message;
    ASSERT_EQ(out->spans.size(), 1u);
    json span = Canonical(out->spans[0]);
    EXPECT_EQ(CountPrefix(span["attributes"], "resource.r"), 128u);
    EXPECT_EQ(CountPrefix(span["attributes"], "s"), 128u);
    EXPECT_EQ(span["attributes"]["otel.dropped_attributes_count"], 500 - 128);
  }
}

TEST(OtlpLimitsTest, LongValuesAreCutWhenAsked) {
  TestRequest r = ManySpans(1, {});
  r.spans[0].attrs = {{"big", std::string(5000, 'x')}, {"small", "ok"}};
  IngestLimits limits;
  limits.max_attribute_value_bytes = 100;
  auto out = DecodeOtlpProto(ToProto(r), limits);
  ASSERT_TRUE(out.has_value());
  json span = Canonical(out->spans[0]);
  EXPECT_EQ(span["attributes"]["big"], std::string(100, 'x'));
  EXPECT_EQ(span["attributes"]["small"], "ok");
}

TEST(OtlpLimitsTest, SpanOverMaxSpanBytesIsRefusedNotBuilt) {
  TestRequest r = ManySpans(3, {});
  r.spans[1].attrs = {{"input.value", std::string(20000, 'x')}};
  IngestLimits limits;
  limits.max_span_bytes = 4096;
  auto out = DecodeOtlpProto(ToProto(r), limits);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->spans.size(), 2u);
  EXPECT_EQ(out->rejected, 1u);
  EXPECT_NE(out->error_message.find("larger than 4096 bytes"), std::string::npos) << out->error_message;
}

// The amplification found in review: resource attributes are copied into
// every span, so a small body maps to a huge output. With the limits, what
// is written follows the body.
TEST(OtlpLimitsTest, ResourceAttributesCannotAmplifyARequest) {
  TestRequest r = ManySpans(2000, ManyAttrs("resource-attribute-", 20000, 16));
  std::string body = ToProto(r);
  IngestLimits limits;
  limits.max_output_bytes = body.size() * 8 + (1u << 20);
  auto out = DecodeOtlpProto(body, limits);
  ASSERT_TRUE(out.has_value());
  size_t total = 0;
  for (auto& s : out->spans) total += s.size();
  EXPECT_LE(total, limits.max_output_bytes);
  EXPECT_EQ(out->spans.size() + out->rejected, 2000u);
  // Every span kept has at most 128 resource attributes.
  for (size_t i = 0; i < out->spans.size(); i += 97) {
    EXPECT_LE(CountPrefix(Canonical(out->spans[i])["attributes"], "resource."), 128u);
  }
}

TEST(OtlpLimitsTest, OutputBoundRefusesTheSpansPastIt) {
  TestRequest r = ManySpans(100, {});
  IngestLimits limits;
  limits.max_output_bytes = 4000;  // a few spans' worth
  auto out = DecodeOtlpJson(ToJson(r).dump(), limits);
  ASSERT_TRUE(out.has_value());
  EXPECT_GT(out->spans.size(), 0u);
  EXPECT_LT(out->spans.size(), 100u);
  EXPECT_EQ(out->spans.size() + out->rejected, 100u);
  EXPECT_NE(out->error_message.find("maps to more than 4000 bytes"), std::string::npos) << out->error_message;
}

TEST(OtlpLimitsTest, RealisticRequestsStayWellInsideTheOutputBound) {
  // Small spans of ids, times, a name, a kind, a scope and a service: the
  // worst realistic ratio of canonical JSON to protobuf.
  TestRequest r = ManySpans(500, {{"service.name", "checkout"}});
  r.scope_name = "@opentelemetry/instrumentation-http";
  r.scope_version = "0.52.1";
  std::string body = ToProto(r);
  IngestLimits limits;
  limits.max_output_bytes = body.size() * 8;  // the daemon adds 1 MiB on top
  auto out = DecodeOtlpProto(body, limits);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->rejected, 0u) << out->error_message;
  EXPECT_EQ(out->spans.size(), 500u);
}

}  // namespace
}  // namespace spanvault::otlp::testing
