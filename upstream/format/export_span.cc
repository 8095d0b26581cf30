// Canonical span → the fields the OTLP export reads, and OTLP ids
// (contract: export_span.h, otlp_export.h).
#include "upstream/format/export_span.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "common/util.h"

namespace spanvault::otlp::export_detail {
namespace {

using simdjson::dom::element_type;

std::optional<uint64_t> Count(element v) {
  if (v.is_uint64()) return uint64_t(v);
  if (v.is_int64() && int64_t(v) >= 0) return static_cast<uint64_t>(int64_t(v));
  return std::nullopt;
}

std::optional<double> Number(element v) {
  if (v.is_double()) return double(v);
  if (v.is_int64()) return static_cast<double>(int64_t(v));
  if (v.is_uint64()) return static_cast<double>(uint64_t(v));
  return std::nullopt;
}

std::optional<int64_t> TimeNs(element v) {
  if (v.is_string()) return ParseRfc3339(std::string_view(v));
  if (auto s = Number(v)) return static_cast<int64_t>(*s * 1e9);
  return std::nullopt;
}

void ReadUsage(element v, Usage& u) {
  if (!v.is_object()) return;
  for (auto [k, x] : simdjson::dom::object(v)) {
    if (k == "input_tokens")
      u.input = Count(x);
    else if (k == "output_tokens")
      u.output = Count(x);
    else if (k == "cache_read_tokens")
      u.cache_read = Count(x);
    else if (k == "cache_write_tokens")
      u.cache_write = Count(x);
    else if (k == "reasoning_tokens")
      u.reasoning = Count(x);
    else if (k == "total_tokens")
      u.total = Count(x);
  }
}

void ReadCost(element v, Cost& c) {
  if (auto n = Number(v)) {
    c.present = true;
    c.total = n;
    return;
  }
  if (!v.is_object()) return;
  c.present = true;
  for (auto [k, x] : simdjson::dom::object(v)) {
    if (k == "total")
      c.total = Number(x);
    else if (k == "input")
      c.input = Number(x);
    else if (k == "output")
      c.output = Number(x);
    else if (k == "cache_read")
      c.cache_read = Number(x);
    else if (k == "cache_write")
      c.cache_write = Number(x);
    else if (k == "reasoning")
      c.reasoning = Number(x);
    else if (k == "request")
      c.request = Number(x);
    else if (x.is_string() && k == "currency")
      c.currency = std::string_view(x);
    else if (x.is_string() && k == "price_id")
      c.price_id = std::string_view(x);
    else if (x.is_string() && k == "source")
      c.source = std::string_view(x);
  }
}

int HexDigit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// True when `s` is 2 * n hex digits, not all zero (an invalid OTLP id).
bool FromHex(std::string_view s, uint8_t* out, size_t n) {
  if (s.size() != 2 * n) return false;
  uint8_t any = 0;
  for (size_t i = 0; i < n; ++i) {
    int hi = HexDigit(s[2 * i]), lo = HexDigit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    any |= out[i];
  }
  return any != 0;
}

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t Fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// MurmurHash3 x64_128 (little-endian loads): a deterministic, well-mixed id
// for opaque strings. Not cryptographic: ids are not secrets.
void HashId(std::string_view s, uint64_t seed, uint8_t* out, size_t n) {
  constexpr uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
  uint64_t h1 = seed, h2 = seed, k1, k2;
  const size_t blocks = s.size() / 16;
  for (size_t i = 0; i < blocks; ++i) {
    std::memcpy(&k1, s.data() + 16 * i, 8);
    std::memcpy(&k2, s.data() + 16 * i + 8, 8);
    h1 ^= Rotl(k1 * c1, 31) * c2;
    h1 = (Rotl(h1, 27) + h2) * 5 + 0x52dce729;
    h2 ^= Rotl(k2 * c2, 33) * c1;
    h2 = (Rotl(h2, 31) + h1) * 5 + 0x38495ab5;
  }
  if (size_t rem = s.size() & 15; rem != 0) {
    uint8_t tail[16] = {};
    std::memcpy(tail, s.data() + 16 * blocks, rem);
    std::memcpy(&k1, tail, 8);
    std::memcpy(&k2, tail + 8, 8);
    if (rem > 8) h2 ^= Rotl(k2 * c2, 33) * c1;
    h1 ^= Rotl(k1 * c1, 31) * c2;
  }
  h1 ^= s.size();
  h2 ^= s.size();
  h1 += h2;
  h2 += h1;
  h1 = Fmix(h1);
  h2 = Fmix(h2);
  h1 += h2;
  h2 += h1;
  uint8_t bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(h1 >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(h2 >> (56 - 8 * i));
  }
  std::memcpy(out, bytes, n);
  if (std::all_of(out, out + n, [](uint8_t b) { return b == 0; })) out[n - 1] = 1;
}

constexpr uint64_t kTraceSeed = 0x7370616e7661756cULL;  // "spanvaul"
constexpr uint64_t kSpanSeed = 0x7370616e69647321ULL;

// True when `s` was not a usable hex id and was hashed.
bool TraceIdBytes(std::string_view s, uint8_t out[16]) {
  if (FromHex(s, out, 16)) return false;
  // 64-bit trace ids (Zipkin, Jaeger, Datadog) are zero-padded on the left.
  if (FromHex(s, out + 8, 8)) {
    std::memset(out, 0, 8);
    return false;
  }
  HashId(s, kTraceSeed, out, 16);
  return true;
}

bool SpanIdBytes(std::string_view s, uint8_t out[8]) {
  if (FromHex(s, out, 8)) return false;
  HashId(s, kSpanSeed, out, 8);
  return true;
}

}  // namespace

std::string ReadCanon(element root, Canon& c) {
  if (!root.is_object()) return "not a JSON object";
  bool has_name = false, has_start = false;
  std::optional<int64_t> end;
  auto str = [](element v, std::string_view& out) {
    if (v.is_string()) out = std::string_view(v);
  };
  for (auto [k, v] : simdjson::dom::object(root)) {
    if (k == "trace_id")
      str(v, c.trace_id);
    else if (k == "span_id")
      str(v, c.span_id);
    else if (k == "parent_span_id")
      str(v, c.parent_span_id);
    else if (k == "span_parents")
      c.span_parents = v;
    else if (k == "name") {
      str(v, c.name);
      has_name = v.is_string();
    } else if (k == "type") {
      std::string_view t;
      str(v, t);
      for (size_t i = 0; i < std::size(kTypes); ++i) {
        if (t == kTypes[i].name) c.type = static_cast<Type>(i);
      }
    } else if (k == "start_time") {
      auto t = TimeNs(v);
      if (!t) return "start_time is not a time";
      c.start_ns = *t;
      has_start = true;
    } else if (k == "end_time") {
      end = TimeNs(v);
    } else if (k == "status") {
      c.error |= v.is_string() && std::string_view(v) == "error";
    } else if (k == "error") {
      if (!v.is_null()) {
        c.error_value = v;
        c.error = true;
      }
    } else if (k == "model")
      str(v, c.model);
    else if (k == "provider")
      str(v, c.provider);
    else if (k == "model_parameters" && v.is_object())
      c.model_parameters = v;
    else if (k == "usage")
      ReadUsage(v, c.usage);
    else if (k == "cost")
      ReadCost(v, c.cost);
    else if (k == "input")
      c.input = v;
    else if (k == "output")
      c.output = v;
    else if (k == "expected")
      c.expected = v;
    else if ((k == "attributes" || k == "metadata") && v.is_object() && !c.attributes)
      c.attributes = v;
    else if (k == "tags" && v.is_array())
      c.tags = v;
    else if (k == "scores" && v.is_object())
      c.scores = v;
    else if (k == "metrics" && v.is_object())
      c.metrics = v;
    else if (k == "session_id")
      str(v, c.session_id);
    else if (k == "user_id")
      str(v, c.user_id);
    else if (k == "environment")
      str(v, c.environment);
    else if (k == "release")
      str(v, c.release);
    else if (k == "service")
      str(v, c.service);
  }
  if (!has_name) return "name is missing";
  if (!has_start) return "start_time is missing";
  c.end_ns = end && *end >= c.start_ns ? *end : c.start_ns;
  if (c.parent_span_id.empty() && c.span_parents) {
    element first;
    if (simdjson::dom::array(*c.span_parents).at(0).get(first) == simdjson::SUCCESS && first.is_string()) {
      c.parent_span_id = std::string_view(first);
    }
  }
  c.has_parent = !c.parent_span_id.empty();
  return {};
}

Status ParseCanon(std::string_view json, size_t index, Canon& c) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  element root;
  padded.assign(json);
  if (auto err = parser.parse(padded).get(root); err) {
    return Fail(Error::Invalid("span " + std::to_string(index) + ": not JSON: " + simdjson::error_message(err)));
  }
  if (std::string problem = ReadCanon(root, c); !problem.empty()) {
    return Fail(Error::Invalid("span " + std::to_string(index) + ": " + problem));
  }
  return {};
}

std::optional<element> AttributeOf(const Canon& c, std::string_view key) {
  if (!c.attributes) return std::nullopt;
  element v;
  if (simdjson::dom::object(*c.attributes).at_key(key).get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::string_view StringAttribute(const Canon& c, std::string_view key) {
  auto v = AttributeOf(c, key);
  return v && v->is_string() ? std::string_view(*v) : std::string_view{};
}

namespace {
constexpr std::string_view kCompletionStart = "langfuse.observation.completion_start_time";

std::optional<double> MetricTtft(const Canon& c) {
  if (!c.metrics) return std::nullopt;
  element v;
  if (simdjson::dom::object(*c.metrics).at_key("time_to_first_token").get(v) != simdjson::SUCCESS) return std::nullopt;
  auto s = Number(v);
  if (!s || *s < 0 || *s > 1e9) return std::nullopt;
  return s;
}
}  // namespace

std::optional<int64_t> CompletionStartNs(const Canon& c) {
  if (auto t = StringAttribute(c, kCompletionStart); !t.empty()) return ParseRfc3339(t);
  if (auto s = MetricTtft(c)) return c.start_ns + static_cast<int64_t>(*s * 1e9);
  return std::nullopt;
}

std::optional<double> TimeToFirstTokenSeconds(const Canon& c) {
  if (auto s = MetricTtft(c)) return s;
  auto t = StringAttribute(c, kCompletionStart);
  if (t.empty()) return std::nullopt;
  auto ns = ParseRfc3339(t);
  if (!ns || *ns < c.start_ns) return std::nullopt;
  return static_cast<double>(*ns - c.start_ns) / 1e9;
}

std::string_view LevelOf(const Canon& c) {
  for (std::string_view key : {"langfuse.observation.level", "brokle.span.level"}) {
    std::string_view v = StringAttribute(c, key);
    if (v == "DEBUG" || v == "DEFAULT" || v == "WARNING") return v;
  }
  return {};
}

std::string_view OperationName(const Canon& c) {
  // The GenAI operation names (semantic conventions v1.38) and the type each means.
  struct Op {
    std::string_view name;
    Type type;
  };
  static constexpr Op kOps[] = {
      {"chat", Type::kGeneration},      {"text_completion", Type::kGeneration}, {"generate_content", Type::kGeneration},
      {"embeddings", Type::kEmbedding}, {"execute_tool", Type::kTool},          {"invoke_agent", Type::kAgent},
      {"create_agent", Type::kAgent},   {"retrieval", Type::kRetrieval},        {"invoke_workflow", Type::kChain},
  };
  std::string_view sent = StringAttribute(c, "gen_ai.operation.name");
  for (const Op& op : kOps) {
    if (op.name == sent && op.type == c.type) return sent;
  }
  return kTypes[static_cast<size_t>(c.type)].operation;
}

std::string_view ToolName(const Canon& c) {
  for (std::string_view key : {"gen_ai.tool.name", "tool.name"}) {
    if (auto v = StringAttribute(c, key); !v.empty()) return v;
  }
  return c.name;
}

LangfuseKeys LangfuseKeysFor(const Canon& c) {
  const bool anthropic = c.provider == "anthropic" || c.model.starts_with("claude") ||
                         c.model.find("anthropic.claude") != std::string_view::npos;
  return {anthropic ? "input_cache_read" : "input_cached_tokens"};
}

void WriteLangfuseUsage(const Usage& u, const LangfuseKeys& keys, JsonObject& o) {
  const uint64_t cached = u.cache_read.value_or(0) + u.cache_write.value_or(0);
  const uint64_t reasoning = u.reasoning.value_or(0);
  if (u.input) o.Uint("input", *u.input > cached ? *u.input - cached : 0);
  if (u.output) o.Uint("output", *u.output > reasoning ? *u.output - reasoning : 0);
  o.Uint(keys.cache_read, u.cache_read);
  o.Uint(keys.cache_write, u.cache_write);
  o.Uint(keys.reasoning, u.reasoning);
  o.Uint("total", u.Total());
}

void WriteLangfuseCost(const Cost& k, const LangfuseKeys& keys, JsonObject& o) {
  o.Dbl("input", k.input);
  o.Dbl("output", k.output);
  o.Dbl(keys.cache_read, k.cache_read);
  o.Dbl(keys.cache_write, k.cache_write);
  o.Dbl(keys.reasoning, k.reasoning);
  o.Dbl("request", k.request);
  o.Dbl("total", k.total);
}

void WriteBraintrustMetrics(const Canon& c, JsonObject& o) {
  const Usage& u = c.usage;
  o.Uint("prompt_tokens", u.input);
  o.Uint("completion_tokens", u.output);
  o.Uint("tokens", u.Total());
  o.Uint("prompt_cached_tokens", u.cache_read);
  o.Uint("prompt_cache_creation_tokens", u.cache_write);
  o.Uint("completion_reasoning_tokens", u.reasoning);
  if (c.cost.usd()) o.Dbl("estimated_cost", c.cost.total);
  // Langfuse's completion_start_time as Braintrust's time_to_first_token.
  if (!MetricTtft(c)) o.Dbl("time_to_first_token", TimeToFirstTokenSeconds(c));
  if (!c.metrics) return;
  static constexpr std::string_view kOwn[] = {"start",
                                              "end",
                                              "prompt_tokens",
                                              "completion_tokens",
                                              "tokens",
                                              "prompt_cached_tokens",
                                              "prompt_cache_creation_tokens",
                                              "completion_reasoning_tokens",
                                              "estimated_cost"};
  for (auto [k, v] : simdjson::dom::object(*c.metrics)) {
    if (std::find(std::begin(kOwn), std::end(kOwn), k) == std::end(kOwn)) o.Elem(k, v);
  }
}

int SpanKind(const Canon& c) { return kTypes[static_cast<size_t>(c.type)].client ? 3 : 1; }

void MakeIds(const Canon& c, SpanIds& ids) {
  ids.trace_opaque = TraceIdBytes(c.trace_id, ids.trace);
  ids.span_opaque = SpanIdBytes(c.span_id, ids.span);
  ids.has_parent = c.has_parent;
  if (c.has_parent) ids.parent_opaque = SpanIdBytes(c.parent_span_id, ids.parent);
  if (!c.span_parents) return;
  bool first = true;
  for (element p : simdjson::dom::array(*c.span_parents)) {
    if (std::exchange(first, false) || !p.is_string() || std::string_view(p) == c.parent_span_id) continue;
    SpanIdBytes(std::string_view(p), ids.links.emplace_back().data());
  }
}

bool ExceptionOf(const Canon& c, Exception& ex) {
  if (!c.error_value || !c.error_value->is_object()) return false;
  for (auto [k, v] : simdjson::dom::object(*c.error_value)) {
    if (!v.is_string()) continue;
    if (k == "type" || (k == "name" && ex.type.empty())) ex.type = std::string_view(v);
    if (k == "message") ex.message = std::string_view(v);
    if (k == "stacktrace" || (k == "stack" && ex.stacktrace.empty())) ex.stacktrace = std::string_view(v);
  }
  return !ex.type.empty() || !ex.message.empty() || !ex.stacktrace.empty();
}

void WriteException(const Exception& ex, AttrSink& a) {
  if (!ex.type.empty()) a.Str("exception.type", ex.type);
  if (!ex.message.empty()) a.Str("exception.message", ex.message);
  if (!ex.stacktrace.empty()) a.Str("exception.stacktrace", ex.stacktrace);
}

std::string_view StatusMessage(const Canon& c) {
  if (!c.error_value) return {};
  if (c.error_value->is_string()) return std::string_view(*c.error_value);
  Exception ex;
  ExceptionOf(c, ex);
  return ex.message.empty() ? ex.type : ex.message;
}

// Shortest text that reads back as the same double (parsed JSON is finite).
void AppendJsonDouble(double v, std::string& out) {
  char buf[400];
  // Plain decimals for the magnitudes costs and parameters have (0.0005, not
  // 5e-04); the shortest form otherwise.
  const double a = v < 0 ? -v : v;
  const bool fixed = a == 0 || (a >= 1e-12 && a < 1e15);
  auto r = fixed ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                 : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendElement(element e, std::string& out) { span::AppendJsonElement(e, out, AppendJsonDouble); }

}  // namespace spanvault::otlp::export_detail
