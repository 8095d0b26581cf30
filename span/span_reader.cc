// Validation of one span object (docs/span.md): every field read once,
// checked and normalised (usage conventions), with a precise reason for the
// first problem found.
#include <cmath>
#include <cstring>

#include "common/util.h"
#include "span/span_fields.h"

namespace spanvault::span::detail {
namespace {

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

}  // namespace

std::string ReadSpan(simdjson::dom::object obj, Fields& f) {
  SpanReader reader;
  return reader.Read(obj, f);
}

}  // namespace spanvault::span::detail
