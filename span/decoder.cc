#include "span/decoder.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/util.h"
#include "span/json_writer.h"
#include "span/span_fields.h"

// Decoding: the payload parsed once (simdjson), each span object read and
// validated (span_reader.cc), then encoded (span_encoder.cc) straight into the
// batch, or refused with a Rejection.

namespace spanvault::span {
using namespace detail;  // the decoder's own parts (span_fields.h)

std::string_view SpanTypeName(SpanType t) { return kTypeNames[static_cast<size_t>(t)]; }

std::optional<SpanType> ParseSpanType(std::string_view s) {
  for (size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (EqualsIgnoreCase(s, kTypeNames[i])) return static_cast<SpanType>(i);
  }
  return std::nullopt;
}

Decoder::Decoder(Limits limits) : limits_(limits), parser_(limits.max_payload_bytes) {
  // Depth: the array around spans counts as one level of the payload.
  // A failed allocation shows up again, as an error code, at the first parse.
  if (parser_.allocate(std::min<size_t>(limits.max_payload_bytes, 64 * 1024), limits.max_depth) != simdjson::SUCCESS) {
    return;
  }
}

DecodeResult Decoder::Decode(std::string_view payload, const Source& source, int64_t received_ns, Batch& batch,
                             bool padded) {
  DecodeResult result;
  auto reject = [&](RejectKind kind, int64_t index, std::string reason, std::string excerpt) {
    Batch::Quarantined q;
    q.rejection.kind = kind;
    q.rejection.index = index;
    q.rejection.reason = std::move(reason);
    q.rejection.excerpt = std::move(excerpt);
    q.source = source;
    q.received_ns = received_ns;
    batch.quarantine.push_back(std::move(q));
    ++result.rejected;
  };
  if (received_ns > batch.received_ns) batch.received_ns = received_ns;

  if (payload.size() > limits_.max_payload_bytes) {
    reject(RejectKind::kTooLarge, -1,
           "payload is " + NumStr(payload.size()) + " bytes (max " + NumStr(limits_.max_payload_bytes) + ")",
           Excerpt(payload));
    return result;
  }
  element root;
  simdjson::error_code ec;
  try {
    ec = parser_.parse(payload.data(), payload.size(), !padded).get(root);
  } catch (...) {  // allocation failure; simdjson itself reports errors as codes
    ec = simdjson::MEMALLOC;
  }
  if (ec != simdjson::SUCCESS) {
    RejectKind kind = RejectKind::kSyntax;
    std::string reason;
    if (ec == simdjson::UTF8_ERROR) {
      kind = RejectKind::kEncoding;
      reason = "payload is not valid UTF-8";
    } else if (ec == simdjson::DEPTH_ERROR) {
      kind = RejectKind::kDepth;
      reason = "JSON nesting exceeds the limit of " + NumStr(limits_.max_depth);
    } else if (ec == simdjson::EMPTY) {
      reason = "payload is empty";
    } else {
      reason = std::string("invalid JSON: ") + simdjson::error_message(ec);
    }
    reject(kind, -1, std::move(reason), Excerpt(payload));
    return result;
  }

  thread_local Fields fields;
  thread_local std::vector<std::pair<std::string_view, element>> attrs;

  auto one = [&](element e, int64_t index) {
    if (e.type() != element_type::OBJECT) {
      std::string reason = index < 0 ? "payload must be a span object or an array of span objects, got "
                                     : "[" + NumStr(static_cast<uint64_t>(index)) + "] must be a span object, got ";
      reason += TypeOf(e);
      std::string ex;
      AppendJsonElement(e, ex);
      reject(RejectKind::kSchema, index, std::move(reason), Excerpt(ex));
      return;
    }
    std::string err = ReadSpan(simdjson::dom::object(e), fields);
    if (!err.empty()) {
      if (index >= 0) err = "[" + NumStr(static_cast<uint64_t>(index)) + "] " + err;
      std::string ex;
      if (index < 0) {
        ex = Excerpt(payload);
      } else {
        AppendJsonElement(e, ex);
        if (ex.size() > kExcerptBytes) ex.resize(kExcerptBytes);
      }
      reject(RejectKind::kSchema, index, std::move(err), std::move(ex));
      return;
    }
    SpanView view;
    view.name = *fields.name;
    if (fields.model) view.model = *fields.model;
    if (fields.provider) view.provider = *fields.provider;
    view.type = fields.type;
    // A span without start_time started when it arrived; duration_ms gives
    // the end when end_time is absent.
    view.start_ns = fields.start_ns.value_or(fields.end_ns ? *fields.end_ns : received_ns);
    view.end_ns = fields.end_ns;
    if (!view.end_ns && fields.duration_ms) {
      // The end must stay in the range of times (so that differences and
      // the stored end cannot overflow int64 nanoseconds).
      const double duration_ns = *fields.duration_ms * 1e6;
      if (!(duration_ns <= kMaxUnixSeconds * 1e9 - static_cast<double>(view.start_ns))) {
        std::string ex;
        AppendJsonElement(e, ex);
        if (ex.size() > kExcerptBytes) ex.resize(kExcerptBytes);
        // Printed as a double: it may be past any integer type (1e22).
        char shown[32];
        std::snprintf(shown, sizeof shown, "%.15g", *fields.duration_ms);
        reject(RejectKind::kSchema, index,
               (index >= 0 ? "[" + NumStr(static_cast<uint64_t>(index)) + "] " : std::string()) + "duration_ms " +
                   shown + " puts the end past the year 2255",
               std::move(ex));
        return;
      }
      view.end_ns = view.start_ns + static_cast<int64_t>(duration_ns);
    }
    view.has_usage = fields.has_usage;
    view.usage = {fields.input_tokens.value, fields.output_tokens.value, fields.cache_read.value,
                  fields.cache_write.value,  fields.reasoning.value,     fields.total.value};
    view.client_cost = fields.cost.has_value();

    EncodedSpan s;
    size_t start = batch.data.size();
    size_t cost_at = 0;
    Encode(fields, view, cost_at, source, received_ns, attrs, batch.data);
    if (batch.data.size() - start > limits_.max_span_bytes) {
      // One element of an array (or one span) over the per-span limit: the
      // payload limit alone would let an array of any size through whole.
      const size_t encoded = batch.data.size() - start;
      std::string ex = batch.data.substr(start, kExcerptBytes);
      batch.data.resize(start);
      reject(RejectKind::kTooLarge, index,
             (index >= 0 ? "[" + NumStr(static_cast<uint64_t>(index)) + "] " : std::string()) + "span is " +
                 NumStr(encoded) + " bytes (max " + NumStr(limits_.max_span_bytes) + ")",
             std::move(ex));
      return;
    }
    s.offset = static_cast<uint32_t>(start);
    s.length = static_cast<uint32_t>(batch.data.size() - start);
    if (!view.client_cost &&
        (!view.model.empty() || view.type == SpanType::kGeneration || view.type == SpanType::kEmbedding)) {
      PriceInput& p = batch.to_price.emplace_back();
      p.span = static_cast<uint32_t>(batch.spans.size());
      p.cost_at = static_cast<uint32_t>(cost_at);
      p.type = view.type;
      p.has_usage = view.has_usage;
      p.start_ns = view.start_ns;
      p.usage = view.usage;
      p.model_offset = static_cast<uint32_t>(batch.price_names.size());
      p.model_length = static_cast<uint32_t>(view.model.size());
      batch.price_names.append(view.model);
      p.provider_offset = static_cast<uint32_t>(batch.price_names.size());
      p.provider_length = static_cast<uint32_t>(view.provider.size());
      batch.price_names.append(view.provider);
    }
    batch.spans.push_back(s);
    ++result.accepted;
  };

  if (root.type() == element_type::ARRAY) {
    int64_t i = 0;
    for (element e : simdjson::dom::array(root)) one(e, i++);
  } else {
    one(root, -1);
  }
  return result;
}

}  // namespace spanvault::span
