// process/ — a small scanner over span JSON as the store holds it (canonical,
// compact, valid UTF-8: span/span_encoder.cc wrote it). The processors read
// and rewrite spans with it without building a DOM: values are raw slices of
// the text, copied through untouched unless a processor changes them.
//
// It still checks every bound (a stored record may be damaged): a malformed
// value makes the calls return npos/false, never read past the text. No
// recursion: nesting is followed with a counter, and deeper than kMaxDepth
// is malformed. No exceptions, no I/O, no allocation except where noted.
#pragma once

#include <emmintrin.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace spanvault::process::json {

inline constexpr size_t npos = std::string_view::npos;
inline constexpr int kMaxDepth = 1024;

enum class Kind { kNull, kBool, kNumber, kString, kObject, kArray, kInvalid };

// The kind of the value starting at v[0] (no leading whitespace).
Kind KindOf(std::string_view v);

// Past whitespace from `pos`.
size_t SkipWs(std::string_view s, size_t pos);

// The end (one past) of the string token starting at s[pos] == '"', or npos.
// `escaped` (optional): set to whether the token holds a backslash escape.
// Inline: the hottest call of the processors.
inline size_t SkipString(std::string_view s, size_t pos, bool* escaped = nullptr);

// The end (one past) of the value starting at s[pos], or npos when malformed
// or nested deeper than kMaxDepth.
size_t SkipValue(std::string_view s, size_t pos);

// The text of a string token's contents (between the quotes) with escapes
// resolved, appended to `out`. False on a bad escape.
bool Unescape(std::string_view raw, std::string& out);

// The decoded text of a string token's contents: `raw` itself when it holds
// no escape (no copy), else the unescaped text in `scratch`. False on a bad
// escape.
bool Text(std::string_view raw, std::string& scratch, std::string_view* text);

// The members of the object value `obj` ('{' ... '}'), in order: f(key, value)
// with `key` the raw contents of the key token (escapes not resolved) and
// `value` the raw value text. `f` returns false to stop early. Returns false
// when `obj` is malformed (members before the damage were given).
template <typename F>
bool ForEachMember(std::string_view obj, F&& f) {
  size_t p = SkipWs(obj, 0);
  if (p >= obj.size() || obj[p] != '{') return false;
  p = SkipWs(obj, p + 1);
  if (p < obj.size() && obj[p] == '}') return true;
  while (p < obj.size()) {
    if (obj[p] != '"') return false;
    size_t key_end = SkipString(obj, p);
    if (key_end == npos) return false;
    std::string_view key = obj.substr(p + 1, key_end - p - 2);
    p = SkipWs(obj, key_end);
    if (p >= obj.size() || obj[p] != ':') return false;
    p = SkipWs(obj, p + 1);
    size_t value_end = SkipValue(obj, p);
    if (value_end == npos) return false;
    if (!f(key, obj.substr(p, value_end - p))) return true;
    p = SkipWs(obj, value_end);
    if (p >= obj.size()) return false;
    if (obj[p] == '}') return true;
    if (obj[p] != ',') return false;
    p = SkipWs(obj, p + 1);
  }
  return false;
}

// The elements of the array value `arr`, like ForEachMember.
template <typename F>
bool ForEachElement(std::string_view arr, F&& f) {
  size_t p = SkipWs(arr, 0);
  if (p >= arr.size() || arr[p] != '[') return false;
  p = SkipWs(arr, p + 1);
  if (p < arr.size() && arr[p] == ']') return true;
  while (p < arr.size()) {
    size_t end = SkipValue(arr, p);
    if (end == npos) return false;
    if (!f(arr.substr(p, end - p))) return true;
    p = SkipWs(arr, end);
    if (p >= arr.size()) return false;
    if (arr[p] == ']') return true;
    if (arr[p] != ',') return false;
    p = SkipWs(arr, p + 1);
  }
  return false;
}

// A string, number, bool or null value read from raw text, for conditions.
struct Scalar {
  Kind kind = Kind::kInvalid;  // kObject/kArray: present but not a scalar
  bool boolean = false;
  double number = 0;
  std::string_view text;  // kString: the decoded text (into scratch or raw)
};
// Reads `v` (a raw value); strings are decoded into `scratch` when escaped.
Scalar ReadScalar(std::string_view v, std::string& scratch);

// The longest prefix of `s` of at most `max` bytes that ends on a UTF-8
// character boundary.
size_t Utf8Cut(std::string_view s, size_t max);

inline size_t SkipString(std::string_view s, size_t pos, bool* escaped) {
  if (pos >= s.size() || s[pos] != '"') return npos;
  // 16 bytes at a time for the next '"' or '\\' (SSE2, always there on
  // x86-64): one pass for both, fast on short strings and long ones.
  const char* p = s.data() + pos + 1;
  const char* end = s.data() + s.size();
  bool esc = false;
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (;;) {
    while (p + 16 <= end) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      unsigned mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash))));
      if (mask != 0) {
        p += __builtin_ctz(mask);
        break;
      }
      p += 16;
    }
    while (p < end && *p != '"' && *p != '\\') ++p;
    if (p >= end) return npos;
    if (*p == '"') {
      if (escaped != nullptr) *escaped = esc;
      return static_cast<size_t>(p - s.data()) + 1;
    }
    esc = true;
    p += 2;
  }
}

}  // namespace spanvault::process::json
