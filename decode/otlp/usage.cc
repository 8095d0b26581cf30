#include "decode/otlp/usage.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "decode/otlp/conventions.h"

// Usage comes from one source, the first that has any count: Langfuse's
// usage_details, then gen_ai.usage.*, then llm.token_count.* (mixing sources
// would mix inclusive and exclusive counts). The other sources' attributes
// stay in `attributes`.
//
// span::Decoder refuses a span whose sub-count exceeds its parent (cache
// reads/writes vs input, reasoning vs output, input/output vs total). A user
// would rather keep the span than lose it over an odd count, so such a count
// is left out of `usage` and its attribute stays in `attributes` as sent.

namespace spanvault::otlp {
namespace {

constexpr uint32_t kEmbeddedDepth = 128;

struct Count {
  std::optional<uint64_t> v;
  int32_t src = -1;
};

struct Tokens {
  Count input, output, cache_read, cache_write, reasoning, total;
  bool Any() const { return input.v || output.v || cache_read.v || cache_write.v || reasoning.v || total.v; }
};

uint64_t SatAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<uint64_t>::max() : r;
}

std::optional<uint64_t> CountOf(const AnyValue& v) {
  switch (v.kind) {
    case ValueKind::kInt:
      if (v.i >= 0) return static_cast<uint64_t>(v.i);
      break;
    case ValueKind::kDouble:
      if (v.d >= 0 && v.d <= 9e18 && v.d == std::floor(v.d)) return static_cast<uint64_t>(v.d);
      break;
    case ValueKind::kString: {
      uint64_t n;
      auto r = std::from_chars(v.s.data(), v.s.data() + v.s.size(), n);
      if (r.ec == std::errc() && r.ptr == v.s.data() + v.s.size() && !v.s.empty()) return n;
      break;
    }
    default:
      break;
  }
  return std::nullopt;
}

std::optional<uint64_t> CountOf(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::INT64:
      if (e.get_int64().value_unsafe() >= 0) return static_cast<uint64_t>(e.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      return e.get_uint64().value_unsafe();
    case element_type::DOUBLE: {
      double d = e.get_double().value_unsafe();
      if (d >= 0 && d <= 9e18 && d == std::floor(d)) return static_cast<uint64_t>(d);
      break;
    }
    default:
      break;
  }
  return std::nullopt;
}

std::optional<double> AmountOf(const AnyValue& v) {
  double d;
  switch (v.kind) {
    case ValueKind::kInt:
      d = static_cast<double>(v.i);
      break;
    case ValueKind::kDouble:
      d = v.d;
      break;
    case ValueKind::kString: {
      auto r = std::from_chars(v.s.data(), v.s.data() + v.s.size(), d);
      if (r.ec != std::errc() || r.ptr != v.s.data() + v.s.size()) return std::nullopt;
      break;
    }
    default:
      return std::nullopt;
  }
  if (!std::isfinite(d) || d < 0) return std::nullopt;
  return d;
}

class UsageReader {
 public:
  explicit UsageReader(UsageInputs& in) : in_(in) {}

  int32_t Slot(Attr a) const { return in_.slot[static_cast<size_t>(a)]; }
  const AnyValue& V(int32_t idx) const { return in_.pool.kvs[static_cast<size_t>(idx)].value; }
  void SetConsumed(int32_t idx, bool c) { in_.consumed[static_cast<size_t>(idx) - in_.base] = c ? 1 : 0; }

  void FromAttrs(Tokens& t, std::initializer_list<std::pair<Count*, std::initializer_list<Attr>>> fields) {
    for (auto& [count, attrs] : fields) {
      for (Attr a : attrs) {
        int32_t idx = Slot(a);
        if (idx < 0) continue;
        if (auto n = CountOf(V(idx))) {
          count->v = n;
          count->src = idx;
          break;
        }
      }
    }
    (void)t;
  }

  // Langfuse usage_details: disjoint buckets that sum to the total
  // ("input" excludes cache reads/writes and other input_* buckets, "output"
  // excludes output_* buckets). OpenAI-shaped details (prompt_tokens,
  // *_details) are inclusive and taken as they are.
  bool FromLangfuse(Tokens& t, bool& all_known) {
    int32_t idx = Slot(Attr::kLfUsageDetails);
    if (idx < 0) return false;
    uint64_t in_base = 0, out_base = 0, in_other = 0, out_other = 0;
    std::optional<uint64_t> prompt, completion, cache_read, cache_write, reasoning, total;
    std::optional<uint64_t> responses_input, responses_output, responses_cached, responses_reasoning;
    bool responses_shape = false;
    bool any_in = false, any_out = false, ok = true;
    all_known = true;
    auto bucket = [&](std::string_view k, std::optional<uint64_t> n) {
      if (!n) {
        ok = false;
        return;
      }
      if (k == "input_tokens") responses_input = n;
      if (k == "output_tokens") responses_output = n;
      if (k == "input" || k == "input_tokens") {
        in_base = SatAdd(in_base, *n), any_in = true;
      } else if (k == "prompt_tokens") {
        prompt = n;
      } else if (k == "output" || k == "output_tokens") {
        out_base = SatAdd(out_base, *n), any_out = true;
      } else if (k == "completion_tokens") {
        completion = n;
      } else if (k == "total" || k == "total_tokens") {
        total = n;
      } else if (k == "input_cache_read" || k == "input_cached_tokens" || k == "cache_read_input_tokens" ||
                 k == "input_cache_read_tokens") {
        cache_read = SatAdd(cache_read.value_or(0), *n), any_in = true;
      } else if (k == "input_cache_creation" || k == "cache_creation_input_tokens" || k == "input_cache_write" ||
                 k == "input_cache_creation_tokens") {
        cache_write = SatAdd(cache_write.value_or(0), *n), any_in = true;
      } else if (k == "output_reasoning" || k == "output_reasoning_tokens") {
        reasoning = SatAdd(reasoning.value_or(0), *n), any_out = true;
      } else if (k.starts_with("input_")) {
        in_other = SatAdd(in_other, *n), any_in = true;
      } else if (k.starts_with("output_")) {
        out_other = SatAdd(out_other, *n), any_out = true;
      } else {
        all_known = false;
      }
    };
    const AnyValue& v = V(idx);
    simdjson::dom::element e;
    if (v.kind == ValueKind::kKvlist) {
      for (uint32_t i = 0; i < v.count; ++i) {
        const KeyValue& kv = in_.pool.kvs[v.first + i];
        bucket(kv.key, CountOf(kv.value));
      }
    } else if (v.kind == ValueKind::kString && ParseEmbeddedJson(v.s, kEmbeddedDepth, e) &&
               e.type() == simdjson::dom::element_type::OBJECT) {
      for (auto field : simdjson::dom::object(e)) {
        std::string_view k = field.key;
        // OpenAI's Responses API shape (input_tokens_details.cached_tokens,
        // output_tokens_details.reasoning_tokens): Langfuse reads its
        // input_tokens/output_tokens as inclusive of those details.
        if ((k == "input_tokens_details" || k == "output_tokens_details") &&
            field.value.type() == simdjson::dom::element_type::OBJECT) {
          responses_shape = true;
          bool input_side = k == "input_tokens_details";
          simdjson::dom::element inner;
          if (simdjson::dom::object(field.value).at_key(input_side ? "cached_tokens" : "reasoning_tokens").get(inner) ==
              simdjson::SUCCESS) {
            if (auto n = CountOf(inner)) (input_side ? responses_cached : responses_reasoning) = n;
          }
          all_known = false;  // other details (audio, ...) are only in the raw attribute
          continue;
        }
        if ((k == "prompt_tokens_details" || k == "completion_tokens_details") &&
            field.value.type() == simdjson::dom::element_type::OBJECT) {
          bool prompt_side = k == "prompt_tokens_details";
          simdjson::dom::element inner;
          if (simdjson::dom::object(field.value)
                  .at_key(prompt_side ? "cached_tokens" : "reasoning_tokens")
                  .get(inner) == simdjson::SUCCESS) {
            if (auto n = CountOf(inner)) (prompt_side ? cache_read : reasoning) = n;
          }
          all_known = false;  // other details (audio, ...) are only in the raw attribute
          continue;
        }
        bucket(k, CountOf(field.value));
      }
    } else {
      return false;
    }
    if (!ok) return false;
    if (responses_shape && !prompt && !completion) {
      // Inclusive counts: input_tokens holds the cached tokens, output_tokens
      // the reasoning tokens; the other keys are exclusive buckets as usual.
      if (responses_cached) {
        cache_read = SatAdd(cache_read.value_or(0), *responses_cached), any_in = true;
        if (responses_input) in_base -= std::min(in_base, *responses_cached);
      }
      if (responses_reasoning) {
        reasoning = SatAdd(reasoning.value_or(0), *responses_reasoning), any_out = true;
        if (responses_output) out_base -= std::min(out_base, *responses_reasoning);
      }
    }
    if (prompt) {
      t.input.v = prompt;
    } else if (any_in) {
      t.input.v = SatAdd(SatAdd(in_base, in_other), SatAdd(cache_read.value_or(0), cache_write.value_or(0)));
    }
    if (completion) {
      t.output.v = completion;
    } else if (any_out) {
      t.output.v = SatAdd(SatAdd(out_base, out_other), reasoning.value_or(0));
    }
    t.cache_read.v = cache_read;
    t.cache_write.v = cache_write;
    t.reasoning.v = reasoning;
    t.total.v = total;
    for (Count* c : {&t.input, &t.output, &t.cache_read, &t.cache_write, &t.reasoning, &t.total}) c->src = idx;
    return t.Any();
  }

  // braintrust.metrics: prompt_tokens (inclusive of cache, as its SDKs
  // report them), completion_tokens, tokens, prompt_cached_tokens,
  // prompt_cache_creation_tokens, completion_reasoning_tokens.
  void FromBraintrust(Tokens& t) {
    int32_t idx = Slot(Attr::kBtMetrics);
    simdjson::dom::element e;
    if (idx < 0 || V(idx).kind != ValueKind::kString || !ParseEmbeddedJson(V(idx).s, kEmbeddedDepth, e) ||
        e.type() != simdjson::dom::element_type::OBJECT) {
      return;
    }
    for (auto [name, c] : {std::pair<std::string_view, Count*>{"prompt_tokens", &t.input},
                           {"completion_tokens", &t.output},
                           {"tokens", &t.total},
                           {"prompt_cached_tokens", &t.cache_read},
                           {"prompt_cache_creation_tokens", &t.cache_write},
                           {"completion_reasoning_tokens", &t.reasoning}}) {
      simdjson::dom::element v;
      if (simdjson::dom::object(e).at_key(name).get(v) != simdjson::SUCCESS) continue;
      c->v = CountOf(v);
      c->src = -1;  // the attribute is consumed by the mapping (messages.cc)
    }
  }

  void Write(ObjectOut& o, std::string& out) {
    Tokens t;
    bool all_known = true;
    bool from_langfuse = FromLangfuse(t, all_known);
    if (!from_langfuse) {
      t = Tokens{};
      FromAttrs(t, {{&t.input, {Attr::kGenAiInputTokens, Attr::kGenAiPromptTokens}},
                    {&t.output, {Attr::kGenAiOutputTokens, Attr::kGenAiCompletionTokens}},
                    {&t.cache_read, {Attr::kGenAiCacheReadTokens}},
                    {&t.cache_write, {Attr::kGenAiCacheWriteTokens}},
                    {&t.reasoning, {Attr::kGenAiReasoningTokens}},
                    {&t.total, {Attr::kGenAiTotalTokens}}});
    }
    const bool from_genai = !from_langfuse && t.Any();
    const std::optional<uint64_t> raw_input = t.input.v, raw_output = t.output.v, raw_total = t.total.v;
    if (!from_langfuse && !t.Any()) FromBraintrust(t);
    if (!from_langfuse && !t.Any()) {
      FromAttrs(t, {{&t.input, {Attr::kLlmPromptTokens}},
                    {&t.output, {Attr::kLlmCompletionTokens}},
                    {&t.cache_read, {Attr::kLlmCacheReadTokens}},
                    {&t.cache_write, {Attr::kLlmCacheWriteTokens}},
                    {&t.reasoning, {Attr::kLlmReasoningTokens}},
                    {&t.total, {Attr::kLlmTotalTokens}}});
    }
    if (!t.Any()) return;
    uint64_t cached = SatAdd(t.cache_read.v.value_or(0), t.cache_write.v.value_or(0));
    // Anthropic's input_tokens excludes the cache; instrumentations that copy
    // it into gen_ai.usage.input_tokens give themselves away when the cache
    // counts exceed it.
    if (!from_langfuse && in_.anthropic && t.input.v && cached > *t.input.v) {
      t.input.v = SatAdd(*t.input.v, cached);
    } else if (from_genai && in_.anthropic && in_.input_excludes_cache && t.input.v && cached > 0) {
      // The GenAI conventions count the cache in input_tokens; such an
      // instrumentation's total is its input + output, and gets the cache too.
      t.input.v = SatAdd(*t.input.v, cached);
      if (raw_total && raw_input && *raw_total == SatAdd(*raw_input, raw_output.value_or(0))) {
        t.total.v = SatAdd(*raw_total, cached);
      }
    }

    std::vector<Count*> dropped;
    auto check = [&](Count& c, bool bad) {
      if (c.v && bad) dropped.push_back(&c);
    };
    uint64_t input = t.input.v.value_or(0), output = t.output.v.value_or(0);
    uint64_t read = t.cache_read.v.value_or(0), write = t.cache_write.v.value_or(0);
    uint64_t total = t.total.v.value_or(0);
    check(t.cache_read, !t.input.v || read > input);
    bool read_kept = t.cache_read.v && t.input.v && read <= input;
    check(t.cache_write, !t.input.v || write > input || (read_kept && SatAdd(read, write) > input));
    check(t.reasoning, !t.output.v || t.reasoning.v.value_or(0) > output);
    check(t.total, (t.input.v && input > total) || (t.output.v && output > total));

    for (Count* c : {&t.input, &t.output, &t.cache_read, &t.cache_write, &t.reasoning, &t.total}) {
      if (c->v && c->src >= 0) SetConsumed(c->src, true);
    }
    for (Count* c : dropped) {
      if (c->src >= 0) SetConsumed(c->src, false);
      c->v.reset();
    }
    if (from_langfuse && !all_known) SetConsumed(Slot(Attr::kLfUsageDetails), false);

    o.Key("usage");
    out.push_back('{');
    ObjectOut u{out};
    for (auto [name, c] : {std::pair<std::string_view, Count*>{"input_tokens", &t.input},
                           {"output_tokens", &t.output},
                           {"cache_read_tokens", &t.cache_read},
                           {"cache_write_tokens", &t.cache_write},
                           {"reasoning_tokens", &t.reasoning},
                           {"total_tokens", &t.total}}) {
      if (!c->v) continue;
      u.Key(name);
      AppendUint(*c->v, out);
    }
    out.push_back('}');
  }

  // OpenInference: llm.cost.prompt is the whole input side (cache included),
  // llm.cost.completion the whole output side; prompt_details.{input,
  // cache_read, cache_write} and completion_details.{output, reasoning} split
  // them. spanvault's parts are exclusive: input = prompt_details.input, else
  // prompt minus the cache parts given; output likewise.
  template <typename Add>
  void OpenInferenceCost(Add& add, std::optional<double>& total, std::vector<int32_t>& used) {
    auto get = [&](Attr a) -> std::optional<double> {
      int32_t idx = Slot(a);
      if (idx < 0) return std::nullopt;
      auto amount = AmountOf(V(idx));
      if (amount) used.push_back(idx);
      return amount;
    };
    auto t = get(Attr::kLlmCostTotal);
    auto prompt = get(Attr::kLlmCostPrompt), completion = get(Attr::kLlmCostCompletion);
    auto input = get(Attr::kLlmCostPromptInput), read = get(Attr::kLlmCostPromptCacheRead),
         write = get(Attr::kLlmCostPromptCacheWrite);
    auto output = get(Attr::kLlmCostCompletionOutput), reasoning = get(Attr::kLlmCostCompletionReasoning);
    if (!input && prompt) input = std::max(0.0, *prompt - read.value_or(0) - write.value_or(0));
    if (!output && completion) output = std::max(0.0, *completion - reasoning.value_or(0));
    if (t) add("total", t);
    for (auto [name, amount] : {std::pair<std::string_view, std::optional<double>>{"input", input},
                                {"output", output},
                                {"cache_read", read},
                                {"cache_write", write},
                                {"reasoning", reasoning}}) {
      if (amount) add(name, amount);
    }
    (void)total;
  }

  // braintrust.metrics.estimated_cost (USD).
  void BraintrustCost(std::optional<double>& total, std::vector<int32_t>& used) {
    int32_t idx = Slot(Attr::kBtMetrics);
    simdjson::dom::element e, v;
    if (idx < 0 || V(idx).kind != ValueKind::kString || !ParseEmbeddedJson(V(idx).s, kEmbeddedDepth, e) ||
        e.type() != simdjson::dom::element_type::OBJECT ||
        simdjson::dom::object(e).at_key("estimated_cost").get(v) != simdjson::SUCCESS || !v.is_number()) {
      return;
    }
    double d = v.get_double().value_unsafe();
    if (!std::isfinite(d) || d < 0) return;
    total = d;
    used.push_back(idx);
  }

  // Client cost: Langfuse cost_details (buckets renamed to the canonical
  // cost keys), then llm.cost.*, then gen_ai.usage.cost. `total` is the sum
  // of the buckets when not given.
  void WriteCost(ObjectOut& o, std::string& out) {
    std::vector<std::pair<std::string, double>> parts;
    std::optional<double> total;
    bool ok = true;
    auto add = [&](std::string_view k, std::optional<double> amount) {
      if (!amount) {
        ok = false;
        return;
      }
      if (k == "total") {
        total = amount;
        return;
      }
      if (k == "input_cache_read" || k == "input_cached_tokens" || k == "cache_read_input_tokens") k = "cache_read";
      if (k == "input_cache_creation" || k == "cache_creation_input_tokens") k = "cache_write";
      if (k == "output_reasoning" || k == "output_reasoning_tokens") k = "reasoning";
      if (k == "currency" || k == "source") return;
      parts.emplace_back(k, *amount);
    };
    std::vector<int32_t> used;
    if (int32_t idx = Slot(Attr::kLfCostDetails); idx >= 0) {
      const AnyValue& v = V(idx);
      simdjson::dom::element e;
      if (v.kind == ValueKind::kKvlist) {
        for (uint32_t i = 0; i < v.count; ++i) {
          add(in_.pool.kvs[v.first + i].key, AmountOf(in_.pool.kvs[v.first + i].value));
        }
      } else if (v.kind == ValueKind::kString && ParseEmbeddedJson(v.s, kEmbeddedDepth, e) &&
                 e.type() == simdjson::dom::element_type::OBJECT) {
        for (auto field : simdjson::dom::object(e)) {
          std::optional<double> amount;
          if (field.value.is_number()) amount = field.value.get_double().value_unsafe();
          if (amount && (!std::isfinite(*amount) || *amount < 0)) amount.reset();
          add(field.key, amount);
        }
      } else {
        ok = false;
      }
      if (ok && (total || !parts.empty())) {
        used.push_back(idx);
      } else {
        parts.clear(), total.reset(), ok = true;
      }
    }
    if (used.empty()) {
      // spanvault's own export: the exclusive parts as they were.
      for (auto [a, name] : {std::pair<Attr, std::string_view>{Attr::kSvCostTotal, "total"},
                             {Attr::kSvCostInput, "input"},
                             {Attr::kSvCostOutput, "output"},
                             {Attr::kSvCostCacheRead, "cache_read"},
                             {Attr::kSvCostCacheWrite, "cache_write"},
                             {Attr::kSvCostReasoning, "reasoning"},
                             {Attr::kSvCostRequest, "request"}}) {
        int32_t idx = Slot(a);
        if (idx < 0) continue;
        if (auto amount = AmountOf(V(idx))) {
          add(name, amount);
          used.push_back(idx);
        }
      }
    }
    if (used.empty()) OpenInferenceCost(add, total, used);
    if (used.empty()) BraintrustCost(total, used);
    if (used.empty()) {
      if (int32_t idx = Slot(Attr::kGenAiCost); idx >= 0) {
        if (auto amount = AmountOf(V(idx))) {
          total = amount;
          used.push_back(idx);
        }
      }
    }
    if (used.empty()) return;
    for (int32_t idx : used) SetConsumed(idx, true);
    if (!total) {
      double sum = 0;
      for (const auto& p : parts) sum += p.second;
      total = sum;
    }
    o.Key("cost");
    out.append("{\"total\":");
    AppendDouble(*total, out);
    for (const auto& [k, amount] : parts) {
      out.push_back(',');
      AppendString(k, out);
      out.push_back(':');
      AppendDouble(amount, out);
    }
    out.push_back('}');
  }

 private:
  UsageInputs& in_;
};

}  // namespace

void WriteUsageAndCost(UsageInputs& in, ObjectOut& o, std::string& out) {
  UsageReader r(in);
  r.Write(o, out);
  r.WriteCost(o, out);
}

}  // namespace spanvault::otlp
