// fuzz-flags: -max_len=262144
// libFuzzer target for the HTTP listener's request handling without sockets
// (ipc/http_ingest.h, ipc/http_body.h): request target → route,
// Content-Type, Content-Encoding → bounded inflate → /v1/spans decoding or
// OTLP decoding (the daemon's codec) → span::Decoder, then the answer.
//
// Input: three lines (request target, Content-Type, Content-Encoding), then
// the body. Properties checked on every input:
//   - Inflate never returns more than its limit, errors always have a
//     message, and the limit is exact: a body that inflates to n bytes
//     inflates with a limit of n and fails kFull with n - 1;
//   - DecodeIngest fails only with 400/413/415, with a message and a
//     quarantine entry; every span it keeps is accepted by span::Decoder;
//     at most max_errors errors are listed;
//   - the answer has the status decided, and a /v1/spans answer is JSON
//     whose accepted/rejected counts are the request's.
#include <nlohmann/json.hpp>
#include <string>

#include "decode/otlp/otlp_ingest.h"
#include "fuzz_util.h"
#include "ipc/http_body.h"
#include "ipc/http_ingest.h"

using namespace spanvault;
using spanvault::fuzz::NextLine;

namespace {

constexpr size_t kInflateLimit = 64 << 10;

void CheckInflate(std::string_view body, ipc::BodyEncoding encoding) {
  Result<std::string> r = ipc::Inflate(body, encoding, kInflateLimit);
  if (!r) {
    FUZZ_CHECK(!r.error().message.empty());
    FUZZ_CHECK(r.error().code == Error::Code::kFull || r.error().code == Error::Code::kInvalidArgument);
    if (encoding == ipc::BodyEncoding::kIdentity) FUZZ_CHECK(body.size() > kInflateLimit);
    return;
  }
  FUZZ_CHECK(r->size() <= kInflateLimit);
  if (encoding == ipc::BodyEncoding::kIdentity) FUZZ_CHECK(*r == body);
  // The limit is exact.
  Result<std::string> at = ipc::Inflate(body, encoding, r->size());
  FUZZ_CHECK(at.has_value() && *at == *r);
  if (!r->empty()) {
    Result<std::string> under = ipc::Inflate(body, encoding, r->size() - 1);
    FUZZ_CHECK(!under.has_value() && under.error().code == Error::Code::kFull);
  }
}

const ipc::OtlpCodec& Codec() {
  static const ipc::OtlpCodec codec = [] {
    // As the daemon wires it (daemon.cc, OtlpCodecForHttp).
    auto adapt = [](Result<otlp::OtlpSpans> r) -> Result<ipc::OtlpDecoded> {
      if (!r) return Fail(r.error());
      return ipc::OtlpDecoded{std::move(r->spans), r->rejected, std::move(r->error_message)};
    };
    ipc::OtlpCodec c;
    c.decode_proto = [adapt](std::string_view body) { return adapt(otlp::DecodeOtlpProto(body)); };
    c.decode_json = [adapt](std::string_view body) { return adapt(otlp::DecodeOtlpJson(body)); };
    c.encode_response_proto = otlp::EncodeExportResponseProto;
    c.encode_response_json = otlp::EncodeExportResponseJson;
    return c;
  }();
  return codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::AsText(data, size);
  std::string_view target = NextLine(in);
  std::string_view content_type = NextLine(in);
  std::string_view content_encoding = NextLine(in);
  std::string_view body = in;

  for (auto e : {ipc::BodyEncoding::kIdentity, ipc::BodyEncoding::kGzip, ipc::BodyEncoding::kDeflate}) {
    CheckInflate(body, e);
  }
  FUZZ_CHECK(!ipc::Inflate(body, ipc::BodyEncoding::kUnsupported, kInflateLimit).has_value());

  ipc::Route route = ipc::MatchRoute(target);
  if (ipc::RouteMethod(route) != "POST") return 0;

  ipc::IngestContext ctx;
  ctx.otlp = &Codec();
  ctx.max_body_bytes = 128 << 10;  // small, so that 413 is reachable
  ctx.max_span_bytes = 32 << 10;
  ctx.max_errors = 8;
  span::Source source;
  source.transport = span::Transport::kHttp;
  ipc::IngestRequest req = ipc::DecodeIngest(route, content_type, content_encoding, std::string(body), source,
                                             1'700'000'000'000'000'000, ctx);

  FUZZ_CHECK(req.failed == 0 || req.failed == 400 || req.failed == 413 || req.failed == 415);
  if (req.failed != 0) {
    FUZZ_CHECK(!req.failure.empty());
    FUZZ_CHECK(!req.batch.quarantine.empty());
    FUZZ_CHECK(req.batch.spans.empty());
  }
  FUZZ_CHECK(req.spans == req.batch.spans.size());
  FUZZ_CHECK(req.errors.size() <= ctx.max_errors);
  for (const auto& q : req.batch.quarantine) {
    FUZZ_CHECK(!q.rejection.reason.empty());
    FUZZ_CHECK(q.rejection.excerpt.size() <= 4096);
  }
  for (size_t i = 0; i < req.batch.spans.size(); ++i) FUZZ_CHECK(fuzz::DecodesAsOneSpan(req.batch.SpanAt(i)));
  ipc::TransportCounters counters;
  ipc::CountRejected(req, counters);

  ipc::SubmitResult stored;
  stored.stored = req.spans;
  ipc::HttpAnswer a = ipc::AnswerIngest(req, stored, ctx);
  if (req.failed != 0) {
    FUZZ_CHECK(a.status == req.failed);
  } else if (route == ipc::Route::kSpans) {
    nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
    FUZZ_CHECK(j.is_object() && j["accepted"] == req.spans && j["rejected"] == req.rejected);
    FUZZ_CHECK(a.status == (req.spans > 0 || req.rejected == 0 ? 200u : 400u));
  } else {
    FUZZ_CHECK(a.status == 200);
    if (!req.proto) FUZZ_CHECK(nlohmann::json::accept(a.body));
  }
  // The store refused everything (a full buffer) or failed.
  ipc::SubmitResult full;
  full.refused_full = req.spans;
  unsigned refused_status = req.failed;
  if (refused_status == 0) refused_status = req.spans > 0 ? 503 : a.status;
  FUZZ_CHECK(ipc::AnswerIngest(req, full, ctx).status == refused_status);
  return 0;
}
