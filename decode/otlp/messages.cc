// Conventions that flatten structured values into many attributes:
// numbered messages (OpenInference llm.input_messages.N.*, OpenLLMetry
// gen_ai.prompt.N.*) rebuilt as message arrays, and scores and metrics
// (Braintrust's objects, spanvault's own score.<k>/metric.<k>). Part of SpanWriter (span_writer.h); these paths run
// only for spans that carry such attributes, so they favour clarity (nlohmann::json) over speed.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/util.h"
#include "decode/otlp/span_writer.h"

namespace spanvault::otlp::internal {
namespace {

using nlohmann::json;

constexpr size_t kMaxIndex = 1024;  // highest message / part number taken
constexpr int kMaxSegments = 8;
// Array slots one span's messages may create (numbers may be sparse): keeps
// a few attributes with large numbers from building a large tree.
constexpr size_t kMaxSlots = 4096;

bool ParseIndex(std::string_view& rest, size_t& n) {
  size_t i = 0;
  n = 0;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9' && i < 5) n = n * 10 + size_t(rest[i++] - '0');
  if (i == 0 || n >= kMaxIndex) return false;
  rest.remove_prefix(i);
  return true;
}

json Scalar(const Pool& pool, const AnyValue& v) {
  std::string tmp;
  switch (v.kind) {
    case ValueKind::kString:
      return std::string(ValidUtf8(v.s, tmp));
    case ValueKind::kInt:
      return v.i;
    case ValueKind::kDouble:
      return v.d;
    case ValueKind::kBool:
      return v.b;
    default: {
      // Written where the deepest path puts it (span, input, array, message,
      // kMaxSegments levels), so that the span stays within kMaxOutputDepth.
      std::string text;
      AppendAnyValue(pool, v, 4 + kMaxSegments, text);
      json j = json::parse(text, nullptr, false);
      return j.is_discarded() ? json() : j;
    }
  }
}

// Sets `value` at the dotted `path` under `node`; numeric segments index
// arrays. OpenInference wraps array elements ("contents.0.message_content.text",
// "tool_calls.0.tool_call.function.name"): those wrappers are skipped.
bool SetPath(json& node, std::string_view path, json value, bool openinference, size_t& slots) {
  json* at = &node;
  bool after_index = false;
  for (int depth = 0; !path.empty(); ++depth) {
    if (depth >= kMaxSegments) return false;
    size_t dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    if (openinference && after_index && (seg == "message_content" || seg == "tool_call")) {
      after_index = false;
      continue;
    }
    size_t n;
    std::string_view digits = seg;
    if (ParseIndex(digits, n) && digits.empty()) {
      if (!at->is_array()) {
        if (!at->is_null()) return false;
        *at = json::array();
      }
      if (n >= at->size()) {
        if (slots + (n + 1 - at->size()) > kMaxSlots) return false;
        slots += n + 1 - at->size();
        while (at->size() <= n) at->push_back(nullptr);
      }
      at = &(*at)[n];
      after_index = true;
      continue;
    }
    after_index = false;
    if (seg.empty()) return false;
    if (at->is_null()) *at = json::object();
    if (!at->is_object()) return false;
    at = &(*at)[std::string(seg)];
  }
  *at = std::move(value);
  return true;
}

// The most array slots setting `path` can create: checked before anything is
// built, so that a path over the bound leaves the tree as it was.
size_t SlotBound(std::string_view path) {
  size_t bound = 0;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    size_t n;
    if (ParseIndex(seg, n) && seg.empty()) bound += n + 1;
  }
  return bound;
}

}  // namespace

bool SpanWriter::WriteIndexedMessages(ObjectOut& o, std::string_view field, std::string_view prefix,
                                      bool openinference) {
  json messages = json::array();
  std::vector<int32_t> used;
  size_t slots = 0;
  for (uint32_t i = span_.attrs.begin; i < span_.attrs.end; ++i) {
    std::string_view key = pool_.kvs[i].key;
    if (!key.starts_with(prefix) || consumed_[i - span_.attrs.begin]) continue;
    std::string_view rest = key.substr(prefix.size());
    size_t n;
    if (!ParseIndex(rest, n) || !rest.starts_with('.')) continue;
    rest.remove_prefix(1);
    if (openinference) {
      if (!rest.starts_with("message.")) continue;
      rest.remove_prefix(8);
    }
    const size_t top = n >= messages.size() ? n + 1 - messages.size() : 0;
    if (slots + top + SlotBound(rest) > kMaxSlots) continue;  // the attribute stays as sent
    if (n >= messages.size()) {
      slots += n + 1 - messages.size();
      while (messages.size() <= n) messages.push_back(nullptr);
    }
    if (SetPath(messages[n], rest, Scalar(pool_, pool_.kvs[i].value), openinference, slots)) {
      used.push_back(static_cast<int32_t>(i));
    }
  }
  if (used.empty()) return false;
  // Numbers that were skipped leave no empty message behind.
  json compact = json::array();
  for (auto& m : messages) {
    if (m.is_object() && !m.empty()) compact.push_back(std::move(m));
  }
  for (int32_t idx : used) Use(idx);
  o.Key(field);
  out_.append(compact.dump(-1, ' ', false, json::error_handler_t::replace));
  return true;
}

void SpanWriter::WriteScoresAndMetrics(ObjectOut& o) {
  // scores: braintrust.scores, else spanvault.score.<k>; numbers in [0, 1]
  // (span::Decoder's rule), anything else keeps the attributes as sent.
  json scores = json::object();
  if (int32_t idx = Slot(slot_, Attr::kBtScores); idx >= 0 && V(idx).kind == ValueKind::kString) {
    json s = json::parse(V(idx).s, nullptr, false);
    bool ok = s.is_object() && !s.empty();
    for (auto it = s.begin(); ok && it != s.end(); ++it) {
      ok = it->is_number() && it->get<double>() >= 0 && it->get<double>() <= 1;
    }
    if (ok) {
      scores = std::move(s);
      Use(idx);
    }
  }
  if (scores.empty()) {
    for (const auto& [name, idx] : sv_scores_) {
      const AnyValue& v = V(idx);
      double d = v.kind == ValueKind::kDouble ? v.d : v.kind == ValueKind::kInt ? static_cast<double>(v.i) : -1;
      if (d < 0 || d > 1) continue;
      scores[std::string(name)] = d;
      Use(idx);
    }
  }
  if (!scores.empty()) {
    o.Key("scores");
    out_.append(scores.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  // metrics: braintrust.metrics' numbers that are not token counts or cost
  // (those are usage and cost, usage.cc), else spanvault.metric.<k>.
  json metrics = json::object();
  if (int32_t idx = Slot(slot_, Attr::kBtMetrics); idx >= 0 && V(idx).kind == ValueKind::kString) {
    json m = json::parse(V(idx).s, nullptr, false);
    static constexpr std::string_view kUsage[] = {"prompt_tokens",
                                                  "completion_tokens",
                                                  "tokens",
                                                  "prompt_cached_tokens",
                                                  "prompt_cache_creation_tokens",
                                                  "completion_reasoning_tokens",
                                                  "estimated_cost",
                                                  "start",
                                                  "end"};
    bool ok = m.is_object();
    json rest = json::object();
    for (auto it = m.begin(); ok && it != m.end(); ++it) {
      if (std::find(std::begin(kUsage), std::end(kUsage), it.key()) != std::end(kUsage)) continue;
      ok = it->is_number();  // not canonical metrics: the attribute stays
      rest[it.key()] = *it;
    }
    if (ok) {
      metrics = std::move(rest);
      // Its counts and cost are the span's usage and cost (usage.cc), or the
      // same counts as the gen_ai.usage.* that Braintrust's exporters send beside it.
      Use(idx);
    }
  }
  if (metrics.empty()) {
    for (const auto& [name, idx] : sv_metrics_) {
      const AnyValue& v = V(idx);
      if (v.kind == ValueKind::kInt) {
        metrics[std::string(name)] = v.i;
      } else if (v.kind == ValueKind::kDouble && std::isfinite(v.d)) {
        metrics[std::string(name)] = v.d;
      } else {
        continue;
      }
      Use(idx);
    }
  }
  if (!metrics.empty()) {
    o.Key("metrics");
    out_.append(metrics.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

}  // namespace spanvault::otlp::internal
