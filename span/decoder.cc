#include "span/decoder.h"

#include <algorithm>
#include <cstdio>
#include <array>
#include <cmath>
#include <cstring>

#include "common/util.h"
#include "span/json_writer.h"

// Validation collects every field of a span object first (views into the
// parsed document, no copies) and encodes only once the whole span is known
// to be valid, so a refused span never leaves half a record in the batch.

namespace spanvault::span {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr size_t kExcerptBytes = 4096;
constexpr size_t kMaxNameBytes = 512;
constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxShortStringBytes = 1024;
// Unix seconds accepted for numeric times: 1970 .. 2255 (nanoseconds must
// fit in int64).
constexpr double kMaxUnixSeconds = 9e9;

constexpr std::string_view kTypeNames[] = {"span",  "generation", "embedding", "retrieval", "tool",
                                           "agent", "chain",      "guardrail", "evaluator", "event"};

std::string_view TypeOf(element e) {
  switch (e.type()) {
    case element_type::OBJECT:
      return "object";
    case element_type::ARRAY:
      return "array";
    case element_type::STRING:
      return "string";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

bool IsNull(element e) { return e.type() == element_type::NULL_VALUE; }
bool IsNumber(element e) {
  auto t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}
double AsDouble(element e) {
  switch (e.type()) {
    case element_type::INT64:
      return static_cast<double>(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return static_cast<double>(e.get_uint64().value_unsafe());
    default:
      return e.get_double().value_unsafe();
  }
}
std::string_view AsString(element e) { return e.get_string().value_unsafe(); }

// A short rendering of a value for error messages.
std::string Show(element e) {
  std::string s;
  AppendJsonElement(e, s);
  if (s.size() > 40) {
    s.resize(37);
    s.append("...");
  }
  return s;
}

std::string NumStr(uint64_t v) { return std::to_string(v); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A usage count slot remembers which key set it, to name conflicts precisely.
struct Count {
  std::optional<uint64_t> value;
  std::string_view key;
};

struct Fields {
  std::optional<std::string_view> name, trace_id, span_id, parent_span_id;
  std::optional<element> span_parents;
  SpanType type = SpanType::kSpan;
  std::optional<int64_t> start_ns, end_ns;
  std::optional<double> duration_ms;
  std::optional<element> input, output, expected, error, model_parameters, cost, tags, scores, metrics;
  bool status_error = false;
  std::optional<std::string_view> model, provider, session_id, user_id, environment, release, service;
  bool has_usage = false;
  Count input_tokens, output_tokens, cache_read, cache_write, reasoning, total;
  bool anthropic_cache_keys = false;
  std::vector<std::pair<std::string_view, element>> usage_extra;
  std::optional<element> attributes, metadata;
  std::vector<std::pair<std::string_view, element>> unknown;

  void Reset() {
    usage_extra.clear();
    unknown.clear();
    auto keep1 = std::move(usage_extra);
    auto keep2 = std::move(unknown);
    *this = Fields{};
    usage_extra = std::move(keep1);  // keep capacity across spans
    unknown = std::move(keep2);
  }
};

class SpanReader {
 public:
  // Returns an empty string when the object is a valid span, else the reason.
  std::string Read(simdjson::dom::object obj, Fields& f) {
    f.Reset();
    f_ = &f;
    for (auto field : obj) {
      std::string err = Field(field.key, field.value);
      if (!err.empty()) return err;
    }
    return Finish();
  }

 private:
  enum class Key {
    kUnknown,
    kName,
    kTraceId,
    kSpanId,
    kParentSpanId,
    kSpanParents,
    kType,
    kStartTime,
    kEndTime,
    kDurationMs,
    kInput,
    kOutput,
    kExpected,
    kAttributes,
    kMetadata,
    kTags,
    kStatus,
    kError,
    kModel,
    kProvider,
    kModelParameters,
    kUsage,
    kCost,
    kScores,
    kMetrics,
    kSessionId,
    kUserId,
    kEnvironment,
    kRelease,
    kService
  };

  // One length switch and at most five comparisons per key (this runs for
  // every field of every span).
  static Key Classify(std::string_view k) {
    auto is = [&](std::string_view name, Key key) { return k == name ? key : Key::kUnknown; };
    Key r = Key::kUnknown;
    switch (k.size()) {
      case 4:
        if ((r = is("name", Key::kName)) != Key::kUnknown || (r = is("type", Key::kType)) != Key::kUnknown ||
            (r = is("tags", Key::kTags)) != Key::kUnknown || (r = is("cost", Key::kCost)) != Key::kUnknown) {
          return r;
        }
        break;
      case 5:
        if ((r = is("input", Key::kInput)) != Key::kUnknown || (r = is("usage", Key::kUsage)) != Key::kUnknown ||
            (r = is("model", Key::kModel)) != Key::kUnknown || (r = is("error", Key::kError)) != Key::kUnknown) {
          return r;
        }
        break;
      case 6:
        if ((r = is("output", Key::kOutput)) != Key::kUnknown || (r = is("status", Key::kStatus)) != Key::kUnknown ||
            (r = is("scores", Key::kScores)) != Key::kUnknown) {
          return r;
        }
        break;
      case 7:
        if ((r = is("span_id", Key::kSpanId)) != Key::kUnknown || (r = is("user_id", Key::kUserId)) != Key::kUnknown ||
            (r = is("metrics", Key::kMetrics)) != Key::kUnknown ||
            (r = is("release", Key::kRelease)) != Key::kUnknown ||
            (r = is("service", Key::kService)) != Key::kUnknown) {
          return r;
        }
        break;
      case 8:
        if ((r = is("trace_id", Key::kTraceId)) != Key::kUnknown ||
            (r = is("end_time", Key::kEndTime)) != Key::kUnknown ||
            (r = is("provider", Key::kProvider)) != Key::kUnknown ||
            (r = is("expected", Key::kExpected)) != Key::kUnknown ||
            (r = is("metadata", Key::kMetadata)) != Key::kUnknown) {
          return r;
        }
        break;
      case 10:
        if ((r = is("start_time", Key::kStartTime)) != Key::kUnknown ||
            (r = is("attributes", Key::kAttributes)) != Key::kUnknown ||
            (r = is("session_id", Key::kSessionId)) != Key::kUnknown) {
          return r;
        }
        break;
      case 11:
        if ((r = is("duration_ms", Key::kDurationMs)) != Key::kUnknown ||
            (r = is("environment", Key::kEnvironment)) != Key::kUnknown) {
          return r;
        }
        break;
      case 12:
        return is("span_parents", Key::kSpanParents);
      case 14:
        return is("parent_span_id", Key::kParentSpanId);
      case 16:
        return is("model_parameters", Key::kModelParameters);
      default:
        break;
    }
    return Key::kUnknown;
  }

  std::string Field(std::string_view k, element v) {
    Fields& f = *f_;
    switch (Classify(k)) {
      case Key::kName:
        return String(k, v, 1, kMaxNameBytes, &f.name, /*nullable=*/false);
      case Key::kTraceId:
        return Id(k, v, &f.trace_id);
      case Key::kSpanId:
        return Id(k, v, &f.span_id);
      case Key::kParentSpanId:
        if (IsNull(v)) return {};
        if (v.type() == element_type::STRING && AsString(v).empty()) return {};  // "" means root
        return Id(k, v, &f.parent_span_id);
      case Key::kSpanParents:
        return SpanParents(v);
      case Key::kType:
        return Type(v);
      case Key::kStartTime:
        return Time(k, v, &f.start_ns);
      case Key::kEndTime:
        return Time(k, v, &f.end_ns);
      case Key::kDurationMs:
        if (IsNull(v)) return {};
        if (!IsNumber(v) || AsDouble(v) < 0) return "duration_ms must be a non-negative number, got " + Show(v);
        f.duration_ms = AsDouble(v);
        return {};
      case Key::kInput:
        return Any(v, &f.input);
      case Key::kOutput:
        return Any(v, &f.output);
      case Key::kExpected:
        return Any(v, &f.expected);
      case Key::kAttributes:
        return Object(k, v, &f.attributes);
      case Key::kMetadata:
        return Object(k, v, &f.metadata);
      case Key::kTags:
        return Tags(v);
      case Key::kStatus:
        return Status(v);
      case Key::kError:
        if (IsNull(v)) return {};
        if (v.type() != element_type::STRING && v.type() != element_type::OBJECT) {
          return "error must be a string or an object, got " + std::string(TypeOf(v));
        }
        f.error = v;
        return {};
      case Key::kModel:
        return String(k, v, 0, kMaxShortStringBytes, &f.model, true);
      case Key::kProvider:
        return String(k, v, 0, kMaxShortStringBytes, &f.provider, true);
      case Key::kModelParameters:
        return Object(k, v, &f.model_parameters);
      case Key::kUsage:
        return Usage(v);
      case Key::kCost:
        if (IsNull(v)) return {};
        if (IsNumber(v)) {
          if (AsDouble(v) < 0) return "cost must not be negative, got " + Show(v);
        } else if (v.type() != element_type::OBJECT) {
          return "cost must be a number or an object, got " + std::string(TypeOf(v));
        }
        f.cost = v;
        return {};
      case Key::kScores:
        return Numbers(k, v, &f.scores, /*unit_range=*/true);
      case Key::kMetrics:
        return Numbers(k, v, &f.metrics, false);
      case Key::kSessionId:
        return String(k, v, 0, kMaxShortStringBytes, &f.session_id, true);
      case Key::kUserId:
        return String(k, v, 0, kMaxShortStringBytes, &f.user_id, true);
      case Key::kEnvironment:
        return String(k, v, 0, kMaxShortStringBytes, &f.environment, true);
      case Key::kRelease:
        return String(k, v, 0, kMaxShortStringBytes, &f.release, true);
      case Key::kService:
        return String(k, v, 0, kMaxShortStringBytes, &f.service, true);
      case Key::kUnknown:
        break;
    }
    f.unknown.emplace_back(k, v);
    return {};
  }

  std::string String(std::string_view k, element v, size_t min, size_t max, std::optional<std::string_view>* out,
                     bool nullable) {
    if (nullable && IsNull(v)) return {};
    if (v.type() != element_type::STRING) {
      return std::string(k) + " must be a string, got " + std::string(TypeOf(v));
    }
    std::string_view s = AsString(v);
    if (s.size() < min) return std::string(k) + " must not be empty";
    if (s.size() > max) {
      return std::string(k) + " is " + NumStr(s.size()) + " bytes (max " + NumStr(max) + ")";
    }
    *out = s;
    return {};
  }

  std::string Id(std::string_view k, element v, std::optional<std::string_view>* out) {
    if (IsNull(v)) return {};
    return String(k, v, 1, kMaxIdBytes, out, false);
  }

  std::string SpanParents(element v) {
    if (IsNull(v)) return {};
    if (v.type() != element_type::ARRAY)
      return "span_parents must be an array of strings, got " + std::string(TypeOf(v));
    size_t i = 0;
    for (element p : simdjson::dom::array(v)) {
      if (p.type() != element_type::STRING) {
        return "span_parents[" + NumStr(i) + "] must be a string, got " + std::string(TypeOf(p));
      }
      size_t n = AsString(p).size();
      if (n == 0 || n > kMaxIdBytes) {
        return "span_parents[" + NumStr(i) + "] must be 1-" + NumStr(kMaxIdBytes) + " bytes";
      }
      ++i;
    }
    f_->span_parents = v;
    return {};
  }

  std::string Type(element v) {
    if (IsNull(v)) return {};
    if (v.type() != element_type::STRING) return "type must be a string, got " + std::string(TypeOf(v));
    auto t = ParseSpanType(AsString(v));
    if (!t) {
      return "type " + Show(v) +
             " is not one of span, generation, embedding, retrieval, tool, agent, chain, guardrail, evaluator, event";
    }
    f_->type = *t;
    return {};
  }

  std::string Time(std::string_view k, element v, std::optional<int64_t>* out) {
    if (IsNull(v)) return {};
    if (v.type() == element_type::STRING) {
      auto ns = ParseRfc3339(AsString(v));
      if (!ns) return std::string(k) + " " + Show(v) + " is not an RFC 3339 time";
      // Same range as numeric times, so that differences cannot overflow.
      if (*ns < 0 || *ns > static_cast<int64_t>(kMaxUnixSeconds) * 1'000'000'000) {
        return std::string(k) + " " + Show(v) + " is out of range (1970 to 2255)";
      }
      *out = *ns;
      return {};
    }
    if (IsNumber(v)) {
      if (v.type() == element_type::INT64 || v.type() == element_type::UINT64) {
        double d = AsDouble(v);
        if (d < 0 || d > kMaxUnixSeconds) {
          return std::string(k) + " " + Show(v) + " is out of range (expected Unix seconds)";
        }
        int64_t secs = v.type() == element_type::INT64 ? v.get_int64().value_unsafe()
                                                       : static_cast<int64_t>(v.get_uint64().value_unsafe());
        *out = secs * 1'000'000'000;
        return {};
      }
      double d = AsDouble(v);
      if (!(d >= 0) || d > kMaxUnixSeconds) {
        return std::string(k) + " " + Show(v) + " is out of range (expected Unix seconds)";
      }
      double whole = std::floor(d);
      *out = static_cast<int64_t>(whole) * 1'000'000'000 + static_cast<int64_t>(std::llround((d - whole) * 1e9));
      return {};
    }
    return std::string(k) + " must be an RFC 3339 string or Unix seconds, got " + std::string(TypeOf(v));
  }

  std::string Any(element v, std::optional<element>* out) {
    if (!IsNull(v)) *out = v;
    return {};
  }

  std::string Object(std::string_view k, element v, std::optional<element>* out) {
    if (IsNull(v)) return {};
    if (v.type() != element_type::OBJECT) {
      return std::string(k) + " must be an object, got " + std::string(TypeOf(v));
    }
    *out = v;
    return {};
  }

  std::string Tags(element v) {
    if (IsNull(v)) return {};
    if (v.type() != element_type::ARRAY) return "tags must be an array of strings, got " + std::string(TypeOf(v));
    size_t i = 0;
    for (element t : simdjson::dom::array(v)) {
      if (t.type() != element_type::STRING) {
        return "tags[" + NumStr(i) + "] must be a string, got " + std::string(TypeOf(t));
      }
      if (AsString(t).size() > kMaxShortStringBytes) {
        return "tags[" + NumStr(i) + "] is " + NumStr(AsString(t).size()) + " bytes (max " +
               NumStr(kMaxShortStringBytes) + ")";
      }
      ++i;
    }
    f_->tags = v;
    return {};
  }

  std::string Status(element v) {
    if (IsNull(v)) return {};
    if (v.type() == element_type::STRING) {
      std::string_view s = AsString(v);
      if (EqualsIgnoreCase(s, "ok") || EqualsIgnoreCase(s, "success") || EqualsIgnoreCase(s, "unset")) {
        return {};
      }
      if (EqualsIgnoreCase(s, "error")) {
        f_->status_error = true;
        return {};
      }
    }
    return "status must be \"ok\" or \"error\", got " + Show(v);
  }

  std::string Numbers(std::string_view k, element v, std::optional<element>* out, bool unit_range) {
    if (IsNull(v)) return {};
    if (v.type() != element_type::OBJECT) {
      return std::string(k) + " must be an object of numbers, got " + std::string(TypeOf(v));
    }
    for (auto field : simdjson::dom::object(v)) {
      if (!IsNumber(field.value)) {
        return std::string(k) + "." + std::string(field.key) + " must be a number, got " +
               std::string(TypeOf(field.value));
      }
      if (unit_range) {
        double d = AsDouble(field.value);
        if (d < 0 || d > 1) {
          return std::string(k) + "." + std::string(field.key) + " (" + Show(field.value) + ") must be between 0 and 1";
        }
      }
    }
    *out = v;
    return {};
  }

  // Reads a token count; `path` names it in errors ("usage.prompt_tokens").
  std::string TokenCount(std::string_view path, element v, std::optional<uint64_t>* out) {
    if (IsNull(v)) return {};
    switch (v.type()) {
      case element_type::INT64: {
        int64_t i = v.get_int64().value_unsafe();
        if (i < 0) break;
        *out = static_cast<uint64_t>(i);
        return {};
      }
      case element_type::UINT64:
        *out = v.get_uint64().value_unsafe();
        return {};
      case element_type::DOUBLE: {
        double d = v.get_double().value_unsafe();
        if (d < 0 || d != std::floor(d) || d > 9e18) break;
        *out = static_cast<uint64_t>(d);
        return {};
      }
      default:
        break;
    }
    return std::string(path) + " must be a non-negative integer, got " + Show(v);
  }

  std::string SetCount(Count* slot, std::string_view key, element v) {
    std::optional<uint64_t> value;
    // The common case is a plain count: no strings built unless it is wrong.
    if (v.type() == element_type::INT64 && v.get_int64().value_unsafe() >= 0) {
      value = static_cast<uint64_t>(v.get_int64().value_unsafe());
    } else {
      std::string err = TokenCount("usage." + std::string(key), v, &value);
      if (!err.empty() || !value) return err;
    }
    if (slot->value && *slot->value != *value) {
      return "usage." + std::string(key) + " (" + NumStr(*value) + ") conflicts with usage." + std::string(slot->key) +
             " (" + NumStr(*slot->value) + ")";
    }
    slot->value = value;
    slot->key = key;
    return {};
  }

  std::string Usage(element v) {
    if (IsNull(v)) return {};
    if (v.type() != element_type::OBJECT) return "usage must be an object, got " + std::string(TypeOf(v));
    Fields& f = *f_;
    f.has_usage = true;
    for (auto field : simdjson::dom::object(v)) {
      std::string_view k = field.key;
      element x = field.value;
      std::string err;
      if (k == "input_tokens") {
        err = SetCount(&f.input_tokens, k, x);
      } else if (k == "prompt_tokens") {
        err = SetCount(&f.input_tokens, k, x);
      } else if (k == "output_tokens") {
        err = SetCount(&f.output_tokens, k, x);
      } else if (k == "completion_tokens") {
        err = SetCount(&f.output_tokens, k, x);
      } else if (k == "cache_read_tokens") {
        err = SetCount(&f.cache_read, k, x);
      } else if (k == "cache_read_input_tokens") {
        err = SetCount(&f.cache_read, k, x);
        f.anthropic_cache_keys = true;
      } else if (k == "cache_write_tokens") {
        err = SetCount(&f.cache_write, k, x);
      } else if (k == "cache_creation_input_tokens") {
        err = SetCount(&f.cache_write, k, x);
        f.anthropic_cache_keys = true;
      } else if (k == "reasoning_tokens") {
        err = SetCount(&f.reasoning, k, x);
      } else if (k == "total_tokens") {
        err = SetCount(&f.total, k, x);
      } else if (k == "prompt_tokens_details" || k == "completion_tokens_details") {
        if (IsNull(x)) continue;
        if (x.type() != element_type::OBJECT) {
          return "usage." + std::string(k) + " must be an object, got " + std::string(TypeOf(x));
        }
        bool prompt = k == "prompt_tokens_details";
        std::string_view sub = prompt ? "cached_tokens" : "reasoning_tokens";
        element inner;
        if (simdjson::dom::object(x).at_key(sub).get(inner) == simdjson::SUCCESS) {
          // Named by its full path so errors point at the right key.
          static constexpr std::string_view kPrompt = "prompt_tokens_details.cached_tokens";
          static constexpr std::string_view kCompletion = "completion_tokens_details.reasoning_tokens";
          err = SetCount(prompt ? &f.cache_read : &f.reasoning, prompt ? kPrompt : kCompletion, inner);
        }
        f.usage_extra.emplace_back(k, x);  // other details (audio tokens, ...) are kept as sent
      } else {
        f.usage_extra.emplace_back(k, x);
      }
      if (!err.empty()) return err;
    }
    return {};
  }

  std::string SubCount(const Count& sub, std::string_view sub_name, const Count& parent, std::string_view parent_name) {
    if (!sub.value) return {};
    if (!parent.value) {
      return "usage." + std::string(sub_name) + " (" + NumStr(*sub.value) + ") given without usage." +
             std::string(parent_name);
    }
    if (*sub.value > *parent.value) {
      return "usage." + std::string(sub_name) + " (" + NumStr(*sub.value) + ") exceeds usage." +
             std::string(parent_name) + " (" + NumStr(*parent.value) + ")";
    }
    return {};
  }

  std::string Finish() {
    Fields& f = *f_;
    if (!f.name) return "name is required";
    if (f.error) f.status_error = true;
    if (f.start_ns && f.end_ns && *f.end_ns < *f.start_ns) {
      return "end_time (" + FormatRfc3339(*f.end_ns) + ") is before start_time (" + FormatRfc3339(*f.start_ns) + ")";
    }
    if (f.has_usage) {
      // Anthropic reports input_tokens without the cached tokens; the
      // canonical input_tokens includes them.
      if (f.anthropic_cache_keys && f.input_tokens.key != "prompt_tokens") {
        uint64_t cached = f.cache_read.value.value_or(0) + f.cache_write.value.value_or(0);
        f.input_tokens.value = f.input_tokens.value.value_or(0) + cached;
        f.input_tokens.key = "input_tokens";
      }
      std::string err;
      if (!(err = SubCount(f.cache_read, "cache_read_tokens", f.input_tokens, "input_tokens")).empty()) return err;
      if (!(err = SubCount(f.cache_write, "cache_write_tokens", f.input_tokens, "input_tokens")).empty()) return err;
      if (f.cache_read.value && f.cache_write.value &&
          *f.cache_read.value + *f.cache_write.value > *f.input_tokens.value) {
        return "usage.cache_read_tokens + usage.cache_write_tokens (" +
               NumStr(*f.cache_read.value + *f.cache_write.value) + ") exceed usage.input_tokens (" +
               NumStr(*f.input_tokens.value) + ")";
      }
      if (!(err = SubCount(f.reasoning, "reasoning_tokens", f.output_tokens, "output_tokens")).empty()) return err;
      if (f.total.value) {
        if (f.input_tokens.value && *f.input_tokens.value > *f.total.value) {
          return "usage.input_tokens (" + NumStr(*f.input_tokens.value) + ") exceeds usage.total_tokens (" +
                 NumStr(*f.total.value) + ")";
        }
        if (f.output_tokens.value && *f.output_tokens.value > *f.total.value) {
          return "usage.output_tokens (" + NumStr(*f.output_tokens.value) + ") exceeds usage.total_tokens (" +
                 NumStr(*f.total.value) + ")";
        }
      } else if (f.input_tokens.value || f.output_tokens.value) {
        f.total.value = f.input_tokens.value.value_or(0) + f.output_tokens.value.value_or(0);
      }
    }
    return {};
  }

  Fields* f_ = nullptr;
};

// Lowercase hex digit for a hex character, 0 for anything else.
constexpr std::array<char, 256> kHexLower = [] {
  std::array<char, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<char>(c);
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<char>(c);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<char>(c - 'A' + 'a');
  return t;
}();

void AppendId(std::string_view id, std::string& out) {
  // Hex ids are normalised to lowercase (OTLP's form) in one pass; opaque
  // ids are kept as they are.
  size_t at = out.size();
  out.resize(at + id.size() + 2);
  char* p = out.data() + at;
  *p++ = '"';
  for (char c : id) {
    char h = kHexLower[static_cast<unsigned char>(c)];
    if (h == 0) {
      out.resize(at);
      AppendJsonString(id, out);
      return;
    }
    *p++ = h;
  }
  *p = '"';
}

// `,"k":` as one append (about twenty per span).
template <size_t N>
void Key(const char (&k)[N], std::string& out) {
  constexpr size_t kLen = N - 1;
  char buf[kLen + 4];
  buf[0] = ',';
  buf[1] = '"';
  std::memcpy(buf + 2, k, kLen);
  buf[kLen + 2] = '"';
  buf[kLen + 3] = ':';
  out.append(buf, sizeof buf);
}

template <size_t N>
void OptString(const char (&k)[N], const std::optional<std::string_view>& v, std::string& out) {
  if (!v) return;
  Key(k, out);
  AppendJsonString(*v, out);
}

template <size_t N>
void OptElement(const char (&k)[N], const std::optional<element>& v, std::string& out) {
  if (!v) return;
  Key(k, out);
  AppendJsonElement(*v, out);
}

template <size_t N>
void OptCount(const char (&k)[N], const Count& c, bool& first, std::string& out) {
  if (!c.value) return;
  if (first) {
    first = false;
    out.push_back('"');
    out.append(k, N - 1);
    out.append("\":", 2);
  } else {
    Key(k, out);
  }
  AppendJsonUint(*c.value, out);
}

bool Contains(const std::vector<std::pair<std::string_view, element>>& v, size_t n, std::string_view key) {
  for (size_t i = 0; i < n; ++i) {
    if (v[i].first == key) return true;
  }
  return false;
}

// Writes the canonical span. `f` is valid.
void Encode(const Fields& f, const SpanView& view, const std::string& enriched_cost, const Source& source,
            int64_t received_ns, std::vector<std::pair<std::string_view, element>>& attrs, std::string& out) {
  out.append("{\"trace_id\":");
  if (f.trace_id) {
    AppendId(*f.trace_id, out);
  } else {
    out.push_back('"');
    out.append(RandomHexId(16));
    out.push_back('"');
  }
  out.append(",\"span_id\":");
  if (f.span_id) {
    AppendId(*f.span_id, out);
  } else {
    out.push_back('"');
    out.append(RandomHexId(8));
    out.push_back('"');
  }
  std::optional<std::string_view> parent = f.parent_span_id;
  if (!parent && f.span_parents) {
    element first;
    if (simdjson::dom::array(*f.span_parents).at(0).get(first) == simdjson::SUCCESS) parent = AsString(first);
  }
  if (parent) {
    out.append(",\"parent_span_id\":");
    AppendId(*parent, out);
  }
  OptElement("span_parents", f.span_parents, out);
  Key("name", out);
  AppendJsonString(*f.name, out);
  Key("type", out);
  out.push_back('"');
  out.append(SpanTypeName(f.type));
  out.push_back('"');
  Key("start_time", out);
  out.push_back('"');
  AppendRfc3339(view.start_ns, out);
  out.push_back('"');
  if (view.end_ns) {
    Key("end_time", out);
    out.push_back('"');
    AppendRfc3339(*view.end_ns, out);
    out.push_back('"');
    Key("duration_ms", out);
    AppendJsonDouble(static_cast<double>(*view.end_ns - view.start_ns) / 1e6, out);
  }
  Key("status", out);
  out.append(f.status_error ? "\"error\"" : "\"ok\"");
  OptElement("error", f.error, out);
  OptString("model", f.model, out);
  OptString("provider", f.provider, out);
  OptElement("model_parameters", f.model_parameters, out);
  if (f.has_usage) {
    Key("usage", out);
    out.push_back('{');
    bool first = true;
    OptCount("input_tokens", f.input_tokens, first, out);
    OptCount("output_tokens", f.output_tokens, first, out);
    OptCount("cache_read_tokens", f.cache_read, first, out);
    OptCount("cache_write_tokens", f.cache_write, first, out);
    OptCount("reasoning_tokens", f.reasoning, first, out);
    OptCount("total_tokens", f.total, first, out);
    for (const auto& [k, v] : f.usage_extra) {
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(k, out);
      out.push_back(':');
      AppendJsonElement(v, out);
    }
    out.push_back('}');
  }
  if (f.cost) {
    Key("cost", out);
    out.push_back('{');
    if (f.cost->type() == element_type::OBJECT) {
      for (auto field : simdjson::dom::object(*f.cost)) {
        if (field.key == "source") continue;
        AppendJsonString(field.key, out);
        out.push_back(':');
        AppendJsonElement(field.value, out);
        out.push_back(',');
      }
      if (simdjson::dom::object(*f.cost).at_key("currency").error() != simdjson::SUCCESS) {
        out.append("\"currency\":\"USD\",");
      }
    } else {
      out.append("\"total\":");
      AppendJsonElement(*f.cost, out);
      out.append(",\"currency\":\"USD\",");
    }
    out.append("\"source\":\"client\"}");
  } else if (!enriched_cost.empty()) {
    Key("cost", out);
    out.append(enriched_cost);
  }
  OptElement("input", f.input, out);
  OptElement("output", f.output, out);
  OptElement("expected", f.expected, out);

  // attributes, then metadata, then unknown top-level fields; the first
  // occurrence of a key wins, nothing is dropped silently except duplicates.
  attrs.clear();
  for (const std::optional<element>* src : {&f.attributes, &f.metadata}) {
    if (!*src) continue;
    for (auto field : simdjson::dom::object(**src)) {
      if (!Contains(attrs, attrs.size(), field.key)) attrs.emplace_back(field.key, field.value);
    }
  }
  for (const auto& kv : f.unknown) {
    if (!Contains(attrs, attrs.size(), kv.first)) attrs.push_back(kv);
  }
  if (!attrs.empty()) {
    Key("attributes", out);
    out.push_back('{');
    for (size_t i = 0; i < attrs.size(); ++i) {
      if (i) out.push_back(',');
      AppendJsonString(attrs[i].first, out);
      out.push_back(':');
      AppendJsonElement(attrs[i].second, out);
    }
    out.push_back('}');
  }
  OptElement("tags", f.tags, out);
  OptElement("scores", f.scores, out);
  OptElement("metrics", f.metrics, out);
  OptString("session_id", f.session_id, out);
  OptString("user_id", f.user_id, out);
  OptString("environment", f.environment, out);
  OptString("release", f.release, out);
  OptString("service", f.service, out);
  Key("received_at", out);
  out.push_back('"');
  AppendRfc3339(received_ns, out);
  out.append("\",\"source\":{\"transport\":\"");
  out.append(TransportName(source.transport));
  out.push_back('"');
  if (source.pid >= 0) {
    out.append(",\"pid\":");
    AppendJsonInt(source.pid, out);
  }
  if (source.uid >= 0) {
    out.append(",\"uid\":");
    AppendJsonInt(source.uid, out);
  }
  if (source.gid >= 0) {
    out.append(",\"gid\":");
    AppendJsonInt(source.gid, out);
  }
  out.append("}}");
}

std::string Excerpt(std::string_view bytes) { return std::string(bytes.substr(0, kExcerptBytes)); }

}  // namespace

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
  thread_local std::string cost;
  SpanReader reader;

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
    std::string err = reader.Read(simdjson::dom::object(e), fields);
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
    cost.clear();
    if (enricher_ != nullptr && !view.client_cost) enricher_->Enrich(view, cost);

    EncodedSpan s;
    size_t start = batch.data.size();
    Encode(fields, view, cost, source, received_ns, attrs, batch.data);
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
