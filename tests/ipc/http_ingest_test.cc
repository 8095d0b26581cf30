// The HTTP listener's decisions without sockets: media types, bounded
// inflation, routing, decoding into a batch, and the answers for every
// outcome of the store (OTLP through a fake codec).
#include "ipc/http_ingest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ipc/http_body.h"
#include "tests/ipc/http_test_client.h"

namespace spanvault::ipc {
namespace {

using nlohmann::json;

TEST(HttpBodyTest, MediaTypeAndEncoding) {
  EXPECT_EQ(MediaType("Application/JSON; charset=utf-8"), "application/json");
  EXPECT_EQ(MediaType(" application/x-protobuf "), "application/x-protobuf");
  EXPECT_EQ(MediaType(""), "");
  EXPECT_EQ(ParseContentEncoding(""), BodyEncoding::kIdentity);
  EXPECT_EQ(ParseContentEncoding("identity"), BodyEncoding::kIdentity);
  EXPECT_EQ(ParseContentEncoding("GZip"), BodyEncoding::kGzip);
  EXPECT_EQ(ParseContentEncoding("x-gzip"), BodyEncoding::kGzip);
  EXPECT_EQ(ParseContentEncoding("deflate"), BodyEncoding::kDeflate);
  EXPECT_EQ(ParseContentEncoding("br"), BodyEncoding::kUnsupported);
  EXPECT_EQ(ParseContentEncoding("gzip, br"), BodyEncoding::kUnsupported);
}

TEST(HttpBodyTest, InflateIsBounded) {
  std::string text(100000, 'a');
  std::string gz = testing::http_test::Gzip(text);
  auto ok = Inflate(gz, BodyEncoding::kGzip, 100000);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, text);
  auto over = Inflate(gz, BodyEncoding::kGzip, 99999);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, Error::Code::kFull);
  // 1 GiB of zeros compresses to ~1 MiB; inflation stops at the bound.
  std::string bomb = testing::http_test::Gzip(std::string(256u << 20, '\0'));
  auto b = Inflate(bomb, BodyEncoding::kGzip, 1u << 20);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, Error::Code::kFull);
  auto bad = Inflate("\x1f\x8b\x08\x00garbage", BodyEncoding::kGzip, 1000);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Error::Code::kInvalidArgument);
  auto truncated = Inflate(gz.substr(0, gz.size() / 2), BodyEncoding::kGzip, 1u << 20);
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().message, "invalid compressed body: truncated");
  auto empty = Inflate("", BodyEncoding::kGzip, 1000);
  EXPECT_FALSE(empty.has_value());
}

TEST(HttpIngestTest, Routes) {
  EXPECT_EQ(MatchRoute("/v1/traces"), Route::kOtlpTraces);
  EXPECT_EQ(MatchRoute("/api/public/otel/v1/traces"), Route::kOtlpTraces);
  EXPECT_EQ(MatchRoute("/v1/spans?x=1"), Route::kSpans);
  EXPECT_EQ(MatchRoute("/metrics"), Route::kMetrics);
  EXPECT_EQ(MatchRoute("/v1/traces/"), Route::kUnknown);
  EXPECT_EQ(RouteMethod(Route::kSpans), "POST");
  EXPECT_EQ(RouteMethod(Route::kReadyz), "GET");
}

// A fake OTLP codec: the body is a JSON array of span objects; "bad" fails
// decoding; objects with "unmappable" are refused by the "mapping".
OtlpCodec FakeCodec() {
  OtlpCodec c;
  auto decode = [](std::string_view body) -> Result<OtlpDecoded> {
    json j = json::parse(body, nullptr, false);
    if (!j.is_array()) return Fail(Error::Invalid("not an ExportTraceServiceRequest"));
    OtlpDecoded d;
    for (auto& s : j) {
      if (s.contains("unmappable")) {
        ++d.rejected;
        d.error_message = "invalid trace_id";
      } else {
        d.spans.push_back(s.dump());
      }
    }
    return d;
  };
  c.decode_proto = decode;
  c.decode_json = decode;
  c.encode_response_proto = [](uint64_t n, std::string_view m) {
    return "P" + std::to_string(n) + ":" + std::string(m);
  };
  c.encode_response_json = [](uint64_t n, std::string_view m) {
    return "J" + std::to_string(n) + ":" + std::string(m);
  };
  return c;
}

class IngestFixture : public ::testing::Test {
 protected:
  IngestFixture() {
    ctx_.otlp = &codec_;
    source_.transport = span::Transport::kHttp;
  }
  IngestRequest Decode(Route route, std::string_view type, std::string body, std::string_view encoding = "") {
    return DecodeIngest(route, type, encoding, std::move(body), source_, 1'700'000'000'000'000'000, ctx_);
  }
  OtlpCodec codec_ = FakeCodec();
  IngestContext ctx_;
  span::Source source_;
};

TEST_F(IngestFixture, OtlpPartialSuccessCountsMappingAndValidation) {
  auto req = Decode(Route::kOtlpTraces, "application/x-protobuf",
                    R"([{"name":"a"},{"unmappable":1},{"name":""},{"name":"b"}])");
  EXPECT_EQ(req.failed, 0u);
  EXPECT_TRUE(req.proto);
  EXPECT_EQ(req.spans, 2u);
  EXPECT_EQ(req.rejected, 2u);
  ASSERT_EQ(req.batch.quarantine.size(), 2u);  // the mapping's and the decoder's
  EXPECT_EQ(req.batch.quarantine[0].source.transport, span::Transport::kHttp);
  SubmitResult stored;
  stored.stored = 2;
  HttpAnswer a = AnswerIngest(req, stored, ctx_);
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.content_type, "application/x-protobuf");
  EXPECT_EQ(a.body, "P2:invalid trace_id; name must not be empty");
  // All clean, JSON: no partial success message.
  req = Decode(Route::kOtlpTraces, "application/json; charset=utf-8", R"([{"name":"a"}])");
  stored.stored = 1;
  a = AnswerIngest(req, stored, ctx_);
  EXPECT_EQ(a.content_type, "application/json");
  EXPECT_EQ(a.body, "J0:");
}

TEST_F(IngestFixture, OtlpFailures) {
  auto req = Decode(Route::kOtlpTraces, "application/json", "bad");
  EXPECT_EQ(req.failed, 400u);
  ASSERT_EQ(req.batch.quarantine.size(), 1u);
  EXPECT_EQ(req.batch.quarantine[0].rejection.kind, span::RejectKind::kSyntax);
  HttpAnswer a = AnswerIngest(req, {}, ctx_);
  EXPECT_EQ(a.status, 400u);
  EXPECT_EQ(json::parse(a.body)["message"],
            "invalid OTLP JSON ExportTraceServiceRequest: not an ExportTraceServiceRequest");
  // google.rpc.Status in protobuf: code = 3, message.
  req = Decode(Route::kOtlpTraces, "application/x-protobuf", "bad");
  a = AnswerIngest(req, {}, ctx_);
  EXPECT_EQ(a.body.substr(0, 3), std::string("\x08\x03\x12", 3));
  // The store: full for everything → 503; failed → 503; full for a part → 200 partial.
  req = Decode(Route::kOtlpTraces, "application/json", R"([{"name":"a"},{"name":"b"}])");
  SubmitResult full;
  full.refused_full = 2;
  a = AnswerIngest(req, full, ctx_);
  EXPECT_EQ(a.status, 503u);
  EXPECT_EQ(a.retry_after_seconds, 5u);
  SubmitResult failed;
  failed.ok = false;
  failed.error = "disk on fire";
  a = AnswerIngest(req, failed, ctx_);
  EXPECT_EQ(a.status, 503u);
  EXPECT_NE(a.body.find("disk on fire"), std::string::npos);
  SubmitResult part;
  part.stored = 1;
  part.refused_full = 1;
  a = AnswerIngest(req, part, ctx_);
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.body, "J1:1 span(s) refused: buffer full");
  // No codec: 501.
  ctx_.otlp = nullptr;
  req = Decode(Route::kOtlpTraces, "application/json", "[]");
  EXPECT_EQ(AnswerIngest(req, {}, ctx_).status, 501u);
}

TEST_F(IngestFixture, SpansBodiesAndLimits) {
  ctx_.max_body_bytes = 1000;
  auto req = Decode(Route::kSpans, "application/json", testing::http_test::Gzip(std::string(2000, ' ')), "gzip");
  EXPECT_EQ(req.failed, 413u);
  EXPECT_EQ(req.batch.quarantine[0].rejection.kind, span::RejectKind::kTooLarge);
  HttpAnswer a = AnswerIngest(req, {}, ctx_);
  EXPECT_EQ(a.status, 413u);
  EXPECT_EQ(json::parse(a.body)["error"], "inflated body is larger than 1000 bytes");
  req = Decode(Route::kSpans, "text/csv", "a,b");
  EXPECT_EQ(req.failed, 415u);
  // An empty array: nothing refused, 200.
  req = Decode(Route::kSpans, "application/json", "[]");
  a = AnswerIngest(req, {}, ctx_);
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(json::parse(a.body), json::parse(R"({"accepted":0,"rejected":0,"errors":[]})"));
  // NDJSON line over the span limit.
  ctx_.max_span_bytes = 300;
  req = Decode(Route::kSpans, "application/x-ndjson",
               R"({"name":"a"})" + std::string("\n{\"name\":\"") + std::string(400, 'x') + "\"}\n");
  EXPECT_EQ(req.spans, 1u);
  ASSERT_EQ(req.errors.size(), 1u);
  EXPECT_EQ(req.errors[0].at, 2);
  EXPECT_EQ(req.errors[0].reason, "line is longer than the limit of 300 bytes");
}

TEST_F(IngestFixture, LargeArrayDecodedBeyondThePerSpanLimit) {
  ctx_.limits.max_payload_bytes = 4096;
  std::string body = "[";
  for (int i = 0; i < 400; ++i) body += std::string(i ? "," : "") + R"({"name":"s)" + std::to_string(i) + R"("})";
  body += "]";
  ASSERT_GT(body.size(), 4096u);
  auto req = Decode(Route::kSpans, "application/json", body);
  EXPECT_EQ(req.spans, 400u);
  EXPECT_EQ(req.rejected, 0u);
}

}  // namespace
}  // namespace spanvault::ipc
