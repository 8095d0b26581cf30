// The canonical span JSON (docs/span.md), written in one pass in the
// documented field order with the span's times as RFC 3339 UTC nanoseconds.
#include <array>
#include <cstring>

#include "common/util.h"
#include "span/span_fields.h"

namespace spanvault::span::detail {
namespace {

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

}  // namespace

// Writes the canonical span. `f` is valid.
void Encode(const Fields& f, const SpanView& view, size_t& cost_at, const Source& source, int64_t received_ns,
            std::vector<std::pair<std::string_view, element>>& attrs, std::string& out) {
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
  } else {
    cost_at = out.size();
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

}  // namespace spanvault::span::detail
