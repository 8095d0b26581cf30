// decode/otlp/ — the writer behind SpanMapper (mapping.h): one object per span,
// shared by mapping.cc (canonical fields) and mapping_attributes.cc (tags and
// the `attributes` object). Internal to decode/otlp/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decode/otlp/conventions.h"
#include "decode/otlp/json_out.h"
#include "decode/otlp/span_data.h"

namespace spanvault::otlp::internal {

constexpr size_t kMaxNameBytes = 512;     // span::Decoder's limit for `name`
constexpr size_t kMaxShortBytes = 1024;   // ... for model, provider, session_id, tags, ...
constexpr uint32_t kEmbeddedDepth = 128;  // JSON inside string attributes
// input/output JSON text is copied as it is when it nests no deeper than
// this (it sits at depth 2 of the span; span::Decoder allows 64).
constexpr uint32_t kContentDepth = kMaxOutputDepth - 2;
constexpr uint64_t kMaxTimeNs = 9'000'000'000ULL * 1'000'000'000ULL;  // span::Decoder's range (year 2255)
constexpr size_t kMaxReasons = 5;

class SpanWriter {
 public:
  SpanWriter(const Pool& pool, const ResourceData& resource, const ScopeData& scope, const SpanData& span,
             std::vector<uint8_t>& consumed, std::vector<uint8_t>& resource_consumed, std::string& out)
      : pool_(pool),
        resource_(resource),
        scope_(scope),
        span_(span),
        consumed_(consumed),
        resource_consumed_(resource_consumed),
        out_(out) {}

  void Write();

  // Everything below is used by the two .cc files that implement the writer.
  const AnyValue& V(int32_t idx) const { return pool_.kvs[static_cast<size_t>(idx)].value; }
  void Use(int32_t idx) { consumed_[static_cast<size_t>(idx) - span_.attrs.begin] = 1; }
  void UseResource(int32_t idx) { resource_consumed_[static_cast<size_t>(idx) - resource_.attrs.begin] = 1; }

  void Classify();
  // A short string field (≤ 1 KiB after UTF-8 repair, non-empty); ints are
  // accepted as their decimal text.
  bool ShortString(int32_t idx, std::string& out) const;
  // First slot in `attrs` with a usable short string; marks it consumed.
  bool FirstString(std::initializer_list<Attr> attrs, std::string& out);
  bool ResourceString(std::initializer_list<std::string_view> keys, std::string& out);

  // Write()'s steps, in its order (each lookup marks what it takes as
  // consumed, so that WriteAttributes leaves it out).
  // `name`, cut at kMaxNameBytes; returns the whole name when it was cut
  // (it may point into `tmp`).
  std::string_view WriteName(ObjectOut& o, std::string& tmp);
  struct ModelAndProvider {
    bool has_model = false;
    std::string model, provider;  // provider normalised; "" when none
  };
  ModelAndProvider FindModelAndProvider();
  void WriteTimes(ObjectOut& o);
  // The tags and the identity fields (session, user, environment, release,
  // service), looked up before the attributes are written.
  struct Identity {
    std::vector<std::string> tags;
    std::string session, user, environment, release, service;
    bool has_session = false, has_user = false, has_env = false, has_release = false, has_service = false;
  };
  Identity CollectIdentity();
  void WriteIdentity(ObjectOut& o, const Identity& id);

  std::string_view DecideType(bool has_model);
  void WriteStatus(ObjectOut& o);
  void WriteModelParameters(ObjectOut& o);
  // The first of `sources` present as `field`; false when none is.
  bool WriteContent(ObjectOut& o, std::string_view field, std::initializer_list<Attr> sources);
  // Messages flattened into numbered attributes (`prefix` N . path): OpenInference's
  // llm.input_messages.N.message.{role,content,contents.M.message_content.*,
  // tool_calls.M.tool_call.*} (`openinference`: the message/message_content/
  // tool_call wrappers are dropped) or OpenLLMetry's gen_ai.prompt.N.{role,
  // content,tool_calls.M.*}. Written as an array of message objects; false
  // when the span has none. (messages.cc)
  bool WriteIndexedMessages(ObjectOut& o, std::string_view field, std::string_view prefix, bool openinference);
  // scores: braintrust.scores, else spanvault.score.<k>; metrics: the
  // braintrust.metrics that are not token counts or cost, else
  // spanvault.metric.<k>. (messages.cc)
  void WriteScoresAndMetrics(ObjectOut& o);
  void CollectTags(std::vector<std::string>& tags);
  void WriteAttributes(ObjectOut& o, std::string_view name_overflow);
  // The otel.* keys of `attributes`: WriteOtelFields (kind, scope, state,
  // raw times, dropped counts), then the events and the links.
  void WriteOtelExtras(ObjectOut& a, std::string_view name_overflow);
  void WriteOtelFields(ObjectOut& a, std::string_view name_overflow);
  void WriteOtelEvents(ObjectOut& a);
  void WriteOtelLinks(ObjectOut& a);

  const Pool& pool_;
  const ResourceData& resource_;
  const ScopeData& scope_;
  const SpanData& span_;
  std::vector<uint8_t>& consumed_;
  std::vector<uint8_t>& resource_consumed_;
  std::string& out_;
  std::array<int32_t, static_cast<size_t>(Attr::kCount)> slot_{};
  std::vector<std::pair<std::string_view, int32_t>> params_;                  // gen_ai.request.<param>
  std::vector<std::pair<std::string_view, int32_t>> lf_meta_;                 // langfuse.observation.metadata.<key>
  std::vector<std::pair<std::string_view, int32_t>> sv_scores_, sv_metrics_;  // spanvault.score.<k>, .metric.<k>
  int32_t exception_event_ = -1;
  bool bt_model_from_metadata_ = false, bt_provider_from_metadata_ = false, bt_tags_from_metadata_ = false;
  // Writing stops (between values, and before a string that would pass it)
  // once out_ is larger; SpanMapper then refuses the span.
  size_t limit_ = SIZE_MAX;
  bool overflow_ = false;
  bool Full() const { return overflow_ || out_.size() > limit_; }
  void WriteValue(const AnyValue& v, int depth) {
    if (!overflow_ && !AppendAnyValue(pool_, v, depth, out_, limit_)) overflow_ = true;
  }
  bool start_ok_ = false, end_ok_ = false;
};

inline int32_t& Slot(std::array<int32_t, static_cast<size_t>(Attr::kCount)>& s, Attr a) {
  return s[static_cast<size_t>(a)];
}

}  // namespace spanvault::otlp::internal
