#include "decode/otlp/json_out.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "span/json_writer.h"

// Strings are validated with simdjson's SIMD UTF-8 check first; the slow,
// repairing path only runs for the rare invalid string.

namespace spanvault::otlp {
namespace {

constexpr std::string_view kTooDeep = "\"[nesting too deep]\"";
constexpr int64_t kMaxExactInt = int64_t{1} << 53;

// Length of the valid UTF-8 sequence at s[i], 0 when invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = at(i);
  size_t n = s.size() - i;
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return k < s.size() && (at(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    uint8_t c1 = at(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    uint8_t c1 = at(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

bool IsAscii(std::string_view s) {
  size_t i = 0;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & kHigh) return false;
  }
  for (; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
  }
  return true;
}

}  // namespace

std::string_view ValidUtf8(std::string_view s, std::string& tmp) {
  // Most strings are short ASCII, where simdjson's dispatch costs more than
  // the check.
  if (IsAscii(s) || simdjson::validate_utf8(s.data(), s.size())) return s;
  tmp.clear();
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      tmp.append("\xEF\xBF\xBD");
      ++i;
    } else {
      tmp.append(s.data() + i, n);
      i += n;
    }
  }
  return tmp;
}

std::string_view Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

void AppendString(std::string_view s, std::string& out) {
  std::string tmp;
  span::AppendJsonString(ValidUtf8(s, tmp), out);
}

void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  bool exact = v >= -kMaxExactInt && v <= kMaxExactInt;
  if (!exact) out.push_back('"');
  out.append(buf, r.ptr);
  if (!exact) out.push_back('"');
}

void AppendUint(uint64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendDouble(double v, std::string& out) {
  if (std::isnan(v)) {
    out.append("\"NaN\"");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  // A large whole double comes out as a bare integer ("46116860184273879040"),
  // which JSON parsers read as an out-of-range integer: keep it a double.
  if (std::string_view(buf, static_cast<size_t>(r.ptr - buf)).find_first_of(".e") == std::string_view::npos &&
      std::fabs(v) >= 1e15) {
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  }
  out.append(buf, r.ptr);
}

void AppendBase64(std::string_view raw, std::string& out) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.push_back('"');
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(raw[k])); };
  for (; i + 3 <= raw.size(); i += 3) {
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    char q[4] = {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
    out.append(q, 4);
  }
  if (raw.size() - i == 1) {
    uint32_t n = byte(i) << 16;
    char q[4] = {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], '=', '='};
    out.append(q, 4);
  } else if (raw.size() - i == 2) {
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    char q[4] = {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
    out.append(q, 4);
  }
  out.push_back('"');
}

void AppendHex(const Id& id, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < id.len; ++i) {
    out.push_back(kHex[id.bytes[i] >> 4]);
    out.push_back(kHex[id.bytes[i] & 15]);
  }
  out.push_back('"');
}

bool AppendAnyValue(const Pool& pool, const AnyValue& v, int depth, std::string& out, size_t limit) {
  switch (v.kind) {
    case ValueKind::kEmpty:
      out.append("null");
      return true;
    case ValueKind::kString:
    case ValueKind::kBase64:
      if (out.size() + v.s.size() > limit) return false;
      AppendString(v.s, out);
      return true;
    case ValueKind::kBool:
      out.append(v.b ? "true" : "false");
      return true;
    case ValueKind::kInt:
      AppendInt(v.i, out);
      return true;
    case ValueKind::kDouble:
      AppendDouble(v.d, out);
      return true;
    case ValueKind::kBytes:
      if (out.size() + v.s.size() / 3 * 4 > limit) return false;
      AppendBase64(v.s, out);
      return true;
    case ValueKind::kArray:
    case ValueKind::kKvlist:
      break;
  }
  if (depth > kMaxOutputDepth) {
    out.append(kTooDeep);
    return true;
  }
  bool object = v.kind == ValueKind::kKvlist;
  out.push_back(object ? '{' : '[');
  for (uint32_t i = 0; i < v.count; ++i) {
    if (out.size() > limit) return false;
    const KeyValue& kv = pool.kvs[v.first + i];
    if (i) out.push_back(',');
    if (object) {
      AppendString(kv.key, out);
      out.push_back(':');
    }
    if (!AppendAnyValue(pool, kv.value, depth + 1, out, limit)) return false;
  }
  out.push_back(object ? '}' : ']');
  return out.size() <= limit;
}

void AppendElement(simdjson::dom::element e, int depth, std::string& out) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      if (depth > kMaxOutputDepth) {
        out.append(kTooDeep);
        return;
      }
      out.push_back('{');
      bool first = true;
      for (auto field : simdjson::dom::object(e)) {
        if (!first) out.push_back(',');
        first = false;
        span::AppendJsonString(field.key, out);  // simdjson validated the UTF-8
        out.push_back(':');
        AppendElement(field.value, depth + 1, out);
      }
      out.push_back('}');
      return;
    }
    case element_type::ARRAY: {
      if (depth > kMaxOutputDepth) {
        out.append(kTooDeep);
        return;
      }
      out.push_back('[');
      bool first = true;
      for (auto x : simdjson::dom::array(e)) {
        if (!first) out.push_back(',');
        first = false;
        AppendElement(x, depth + 1, out);
      }
      out.push_back(']');
      return;
    }
    case element_type::STRING:
      span::AppendJsonString(e.get_string().value_unsafe(), out);
      return;
    case element_type::INT64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, e.get_int64().value_unsafe());
      out.append(buf, r.ptr);
      return;
    }
    case element_type::UINT64:
      AppendUint(e.get_uint64().value_unsafe(), out);
      return;
    case element_type::DOUBLE:
      AppendDouble(e.get_double().value_unsafe(), out);
      return;
    case element_type::BOOL:
      out.append(e.get_bool().value_unsafe() ? "true" : "false");
      return;
    case element_type::NULL_VALUE:
      out.append("null");
      return;
  }
}

bool ParseEmbeddedJson(std::string_view text, uint32_t max_depth, simdjson::dom::element& out) {
  // One parser per depth limit in use (two in practice): re-allocating a
  // parser whenever the limit alternates would cost more than the parse.
  struct Slot {
    uint32_t depth = 0;
    simdjson::dom::parser parser;
  };
  thread_local Slot slots[4];
  // Cheap pre-check: only objects, arrays and strings are worth parsing
  // (a bare number or word stays a string attribute).
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  if (i == text.size() || (text[i] != '{' && text[i] != '[' && text[i] != '"')) return false;
  Slot* slot = &slots[0];
  for (Slot& s : slots) {
    if (s.depth == max_depth || s.depth == 0) {
      slot = &s;
      break;
    }
  }
  try {
    if (slot->depth != max_depth || slot->parser.capacity() < text.size()) {
      if (slot->parser.allocate(std::max<size_t>(text.size(), 4096), max_depth) != simdjson::SUCCESS) return false;
      slot->depth = max_depth;
    }
    return slot->parser.parse(text.data(), text.size(), true).get(out) == simdjson::SUCCESS;
  } catch (...) {  // allocation failure
    return false;
  }
}

}  // namespace spanvault::otlp
