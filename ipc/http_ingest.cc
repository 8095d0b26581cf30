#include "ipc/http_ingest.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "ipc/http_body.h"

namespace spanvault::ipc {
namespace {

constexpr size_t kExcerptBytes = 4096;
// partial_success.error_message: the first reasons, not all of them.
constexpr size_t kMaxOtlpReasons = 5;

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// google.rpc.Status{code = 1, message = 2} on the protobuf wire.
std::string StatusProto(uint32_t code, std::string_view message) {
  std::string out;
  auto varint = [&out](uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  };
  out.push_back(static_cast<char>((1 << 3) | 0));
  varint(code);
  out.push_back(static_cast<char>((2 << 3) | 2));
  varint(message.size());
  out.append(message);
  return out;
}

// The gRPC code a status stands for (OTLP clients only log it).
uint32_t GrpcCode(unsigned http_status) {
  switch (http_status) {
    case 400:
    case 415:
      return 3;  // INVALID_ARGUMENT
    case 413:
      return 8;  // RESOURCE_EXHAUSTED
    case 501:
      return 12;  // UNIMPLEMENTED
    default:
      return 14;  // UNAVAILABLE
  }
}

HttpAnswer ErrorAnswer(const IngestRequest& req, unsigned status, const std::string& message, uint32_t retry_after) {
  HttpAnswer a;
  a.status = status;
  a.retry_after_seconds = retry_after;
  if (req.route == Route::kOtlpTraces) {
    if (req.proto) {
      a.content_type = "application/x-protobuf";
      a.body = StatusProto(GrpcCode(status), message);
    } else {
      a.content_type = "application/json";
      a.body = Dump({{"code", GrpcCode(status)}, {"message", message}});
    }
  } else {
    a.content_type = "application/json";
    a.body = Dump({{"error", message}});
  }
  return a;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// NDJSON sent as application/json: a raw newline never occurs inside a JSON
// string, and in one valid JSON value a closing '}' or ']' is never followed
// (across whitespace) by an opening '{' or '['. So a newline with a closed
// value before it and an opening one after it means several values.
bool LooksLikeNdjson(std::string_view s) {
  for (size_t nl = s.find('\n'); nl != std::string_view::npos; nl = s.find('\n', nl + 1)) {
    size_t b = nl;
    while (b > 0 && IsSpace(s[b - 1])) --b;
    if (b == 0 || (s[b - 1] != '}' && s[b - 1] != ']')) continue;
    size_t a = nl + 1;
    while (a < s.size() && IsSpace(s[a])) ++a;
    if (a < s.size() && (s[a] == '{' || s[a] == '[')) return true;
  }
  return false;
}

class Decoding {
 public:
  Decoding(IngestRequest& req, const span::Source& source, int64_t received_ns)
      : req_(req), source_(source), received_ns_(received_ns) {}

  void Quarantine(span::RejectKind kind, std::string reason, std::string_view excerpt, int64_t index = -1) {
    span::Batch::Quarantined q;
    q.rejection.kind = kind;
    q.rejection.index = index;
    q.rejection.reason = std::move(reason);
    q.rejection.excerpt = std::string(excerpt.substr(0, kExcerptBytes));
    q.source = source_;
    q.received_ns = received_ns_;
    req_.batch.quarantine.push_back(std::move(q));
    if (received_ns_ > req_.batch.received_ns) req_.batch.received_ns = received_ns_;
  }

  void Fail(unsigned status, span::RejectKind kind, std::string reason, std::string_view excerpt) {
    req_.failed = status;
    req_.failure = reason;
    ++req_.rejected;
    Quarantine(kind, std::move(reason), excerpt);
  }

 private:
  IngestRequest& req_;
  const span::Source& source_;
  int64_t received_ns_;
};

void DecodeOtlp(IngestRequest& req, std::string_view body, Decoding& d, const span::Source& source, int64_t received_ns,
                const IngestContext& ctx) {
  Result<OtlpDecoded> decoded = req.proto ? ctx.otlp->decode_proto(body) : ctx.otlp->decode_json(body);
  if (!decoded) {
    d.Fail(400, span::RejectKind::kSyntax,
           "invalid OTLP " + std::string(req.proto ? "protobuf" : "JSON") +
               " ExportTraceServiceRequest: " + decoded.error().message,
           body);
    return;
  }
  std::vector<std::string> reasons;
  if (decoded->rejected > 0) {
    std::string why = decoded->error_message.empty() ? "not mappable" : decoded->error_message;
    d.Quarantine(span::RejectKind::kSchema,
                 std::to_string(decoded->rejected) + " OTLP span(s) could not be mapped: " + why, body);
    req.rejected += decoded->rejected;
    reasons.push_back(why);
  }
  span::Decoder& decoder = ThreadDecoder(ctx.limits);
  req.batch.data.reserve(req.batch.data.size() + body.size() * 2 + 1024);
  for (const std::string& s : decoded->spans) {
    size_t q0 = req.batch.quarantine.size();
    if (s.size() > ctx.max_span_bytes) {
      d.Quarantine(span::RejectKind::kTooLarge,
                   "span is " + std::to_string(s.size()) + " bytes (max " + std::to_string(ctx.max_span_bytes) + ")",
                   s);
    } else {
      decoder.Decode(s, source, received_ns, req.batch);
    }
    if (req.batch.quarantine.size() > q0) {
      ++req.rejected;
      if (reasons.size() < kMaxOtlpReasons) reasons.push_back(req.batch.quarantine[q0].rejection.reason);
    }
  }
  for (size_t i = 0; i < reasons.size(); ++i) req.otlp_message += (i ? "; " : "") + reasons[i];
}

void AddError(IngestRequest& req, int64_t at, const std::string& reason, const IngestContext& ctx) {
  if (req.errors.size() < ctx.max_errors) req.errors.push_back({at, reason});
}

// `body` has span::Decoder::kPadding readable bytes after `content`.
void DecodeSpans(IngestRequest& req, std::string_view content, Decoding& d, const span::Source& source,
                 int64_t received_ns, const IngestContext& ctx) {
  span::Decoder& decoder = ThreadDecoder(ctx.limits);
  req.batch.data.reserve(content.size() + content.size() / 4 + 1024);
  if (!req.ndjson) {
    // One payload. Larger than the per-thread decoder takes (arrays of many
    // spans): a decoder of its own for this request, freed right after, so
    // that no thread keeps a parser sized for the largest body ever seen.
    std::unique_ptr<span::Decoder> big;
    span::Decoder* dec = &decoder;
    if (content.size() > ctx.limits.max_payload_bytes) {
      span::Limits l = ctx.limits;
      l.max_payload_bytes = ctx.max_body_bytes;
      big = std::make_unique<span::Decoder>(l);
      dec = big.get();
    }
    size_t q0 = req.batch.quarantine.size();
    dec->Decode(content, source, received_ns, req.batch, /*padded=*/true);
    for (size_t i = q0; i < req.batch.quarantine.size(); ++i) {
      ++req.rejected;
      AddError(req, req.batch.quarantine[i].rejection.index, req.batch.quarantine[i].rejection.reason, ctx);
    }
    return;
  }
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    std::string_view line = content.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::all_of(line.begin(), line.end(), IsSpace)) continue;
    size_t q0 = req.batch.quarantine.size();
    if (line.size() > ctx.max_span_bytes) {
      d.Quarantine(span::RejectKind::kTooLarge,
                   "line is longer than the limit of " + std::to_string(ctx.max_span_bytes) + " bytes", line);
    } else {
      decoder.Decode(line, source, received_ns, req.batch, /*padded=*/true);
    }
    if (req.batch.quarantine.size() > q0) {
      ++req.rejected;  // a line counts once however many of its spans were refused
      for (size_t i = q0; i < req.batch.quarantine.size(); ++i) {
        AddError(req, line_no, req.batch.quarantine[i].rejection.reason, ctx);
      }
    }
  }
}

}  // namespace

Route MatchRoute(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/v1/traces" || path == "/api/public/otel/v1/traces") return Route::kOtlpTraces;
  if (path == "/v1/spans") return Route::kSpans;
  if (path == "/healthz") return Route::kHealthz;
  if (path == "/readyz") return Route::kReadyz;
  if (path == "/metrics") return Route::kMetrics;
  return Route::kUnknown;
}

std::string_view RouteMethod(Route route) {
  switch (route) {
    case Route::kOtlpTraces:
    case Route::kSpans:
      return "POST";
    case Route::kHealthz:
    case Route::kReadyz:
    case Route::kMetrics:
      return "GET";
    case Route::kUnknown:
      break;
  }
  return "";
}

IngestRequest DecodeIngest(Route route, std::string_view content_type, std::string_view content_encoding,
                           std::string body, const span::Source& source, int64_t received_ns,
                           const IngestContext& ctx) {
  IngestRequest req;
  req.route = route;
  Decoding d(req, source, received_ns);
  std::string media = MediaType(content_type);
  if (route == Route::kOtlpTraces) {
    req.proto = media == "application/x-protobuf" || media == "application/protobuf";
    if (!req.proto && media != "application/json") {
      d.Fail(415, span::RejectKind::kSchema,
             "unsupported Content-Type \"" + std::string(content_type) +
                 "\": OTLP/HTTP takes application/x-protobuf or application/json",
             body);
      return req;
    }
    if (ctx.otlp == nullptr || !ctx.otlp->usable()) {
      req.failed = 501;
      req.failure = "OTLP ingest is not available in this build";
      return req;
    }
  } else {
    req.ndjson = media == "application/x-ndjson" || media == "application/ndjson" || media == "application/jsonl" ||
                 media == "application/x-jsonlines";
    if (!req.ndjson && media != "application/json") {
      d.Fail(415, span::RejectKind::kSchema,
             "unsupported Content-Type \"" + std::string(content_type) +
                 "\": /v1/spans takes application/json or application/x-ndjson",
             body);
      return req;
    }
  }
  BodyEncoding encoding = ParseContentEncoding(content_encoding);
  if (encoding == BodyEncoding::kUnsupported) {
    d.Fail(415, span::RejectKind::kSchema,
           "unsupported Content-Encoding \"" + std::string(content_encoding) + "\": use gzip, deflate or none", body);
    return req;
  }
  if (encoding != BodyEncoding::kIdentity || body.size() > ctx.max_body_bytes) {
    Result<std::string> inflated = Inflate(body, encoding, ctx.max_body_bytes);
    if (!inflated) {
      bool full = inflated.error().code == Error::Code::kFull;
      d.Fail(full ? 413 : 400, full ? span::RejectKind::kTooLarge : span::RejectKind::kSyntax, inflated.error().message,
             body);
      return req;
    }
    body = std::move(*inflated);
  }
  if (route == Route::kOtlpTraces) {
    DecodeOtlp(req, body, d, source, received_ns, ctx);
  } else {
    size_t n = body.size();
    if (!req.ndjson) req.ndjson = LooksLikeNdjson(body);
    body.resize(n + span::Decoder::kPadding);
    DecodeSpans(req, std::string_view(body.data(), n), d, source, received_ns, ctx);
  }
  req.spans = static_cast<uint32_t>(req.batch.spans.size());
  return req;
}

IngestRequest RefuseTooLarge(Route route, std::string_view content_type, uint64_t content_length,
                             const span::Source& source, int64_t received_ns, const IngestContext& ctx) {
  IngestRequest req;
  req.route = route;
  req.proto = route == Route::kOtlpTraces && MediaType(content_type) != "application/json";
  Decoding d(req, source, received_ns);
  d.Fail(413, span::RejectKind::kTooLarge,
         "body is " + std::to_string(content_length) + " bytes (max " + std::to_string(ctx.max_body_bytes) + ")", {});
  return req;
}

IngestRequest RefuseBusy(Route route, std::string_view content_type) {
  IngestRequest req;
  req.route = route;
  req.proto = route == Route::kOtlpTraces && MediaType(content_type) != "application/json";
  req.failed = 503;
  req.failure =
      "spanvaultd holds as much input in memory as it may (ingest.max_inflight_bytes); retry after the Retry-After "
      "delay";
  return req;
}

HttpAnswer AnswerIngest(const IngestRequest& req, const SubmitResult& r, const IngestContext& ctx) {
  if (req.failed != 0)
    return ErrorAnswer(req, req.failed, req.failure, req.failed == 503 ? ctx.retry_after_seconds : 0);
  if (req.spans > 0 && !r.ok) {
    return ErrorAnswer(req, 503, "spans not stored: " + r.error, ctx.retry_after_seconds);
  }
  if (req.spans > 0 && r.refused_full > 0 && r.stored == 0) {
    return ErrorAnswer(req, 503, "the buffer is full (on_full = \"reject\"); retry later", ctx.retry_after_seconds);
  }
  uint32_t refused = req.spans > 0 && r.ok ? r.refused_full : 0;
  HttpAnswer a;
  a.content_type = req.proto ? "application/x-protobuf" : "application/json";
  if (req.route == Route::kOtlpTraces) {
    std::string message = req.otlp_message;
    if (refused > 0)
      message += (message.empty() ? "" : "; ") + std::to_string(refused) + " span(s) refused: buffer full";
    uint64_t rejected = req.rejected + refused;
    a.body = req.proto ? ctx.otlp->encode_response_proto(rejected, rejected > 0 ? message : "")
                       : ctx.otlp->encode_response_json(rejected, rejected > 0 ? message : "");
    return a;
  }
  nlohmann::json j;
  j["accepted"] = r.ok ? r.stored : 0;
  j["rejected"] = req.rejected + refused;
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : req.errors) errors.push_back({{req.ndjson ? "line" : "index", e.at}, {"reason", e.reason}});
  if (refused > 0) errors.push_back({{"reason", std::to_string(refused) + " span(s) refused: buffer full"}});
  j["errors"] = std::move(errors);
  a.status = j["accepted"] > 0 || j["rejected"] == 0 ? 200 : 400;
  a.body = Dump(j);
  return a;
}

void CountRejected(const IngestRequest& req, TransportCounters& c) {
  if (req.rejected == 0 && req.failed == 0) return;
  c.payloads_rejected.fetch_add(1, std::memory_order_relaxed);
  CountRejections(req.batch, 0, c);
}

}  // namespace spanvault::ipc
