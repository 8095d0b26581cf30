// The text helpers of cli/render.h: terminal-safe strings and their width,
// truncation, numbers, times, colours and the timeline bar.
#include <time.h>

#include <cmath>
#include <cstdio>

#include "cli/render.h"
#include "common/util.h"

namespace spanvault::cli {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes the code point at s[i] and advances i; false (i advanced by one
// byte) for an invalid, overlong or surrogate sequence.
bool NextCodePoint(std::string_view s, size_t& i, char32_t& cp) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return false;
  }
  char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < len; ++k) {
    auto n = static_cast<unsigned char>(s[i + k]);
    if ((n & 0xC0) != 0x80) {
      ++i;
      return false;
    }
    c = (c << 6) | (n & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < kMin[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return false;
  }
  i += len;
  cp = c;
  return true;
}

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool InRanges(char32_t c, std::initializer_list<std::pair<char32_t, char32_t>> ranges) {
  for (auto [lo, hi] : ranges) {
    if (c >= lo && c <= hi) return true;
  }
  return false;
}

// Columns a (sanitized) code point takes on a terminal.
size_t CodePointWidth(char32_t c) {
  if (c < 0x300) return 1;
  if (InRanges(c, {{0x0300, 0x036F},
                   {0x1AB0, 0x1AFF},
                   {0x1DC0, 0x1DFF},
                   {0x200B, 0x200F},
                   {0x20D0, 0x20FF},
                   {0xFE00, 0xFE0F},
                   {0xFE20, 0xFE2F},
                   {0xE0100, 0xE01EF}})) {
    return 0;
  }
  if (InRanges(c, {{0x1100, 0x115F},
                   {0x2E80, 0x303E},
                   {0x3041, 0x33FF},
                   {0x3400, 0x4DBF},
                   {0x4E00, 0x9FFF},
                   {0xA000, 0xA4CF},
                   {0xAC00, 0xD7A3},
                   {0xF900, 0xFAFF},
                   {0xFE30, 0xFE4F},
                   {0xFF00, 0xFF60},
                   {0xFFE0, 0xFFE6},
                   {0x1F300, 0x1F64F},
                   {0x1F680, 0x1F6FF},
                   {0x1F900, 0x1F9FF},
                   {0x20000, 0x3FFFD}})) {
    return 2;
  }
  return 1;
}

// What a code point from a span becomes on the terminal: line breaks and tabs
// a space, other controls and bidi overrides U+FFFD.
char32_t SafeCodePoint(char32_t c) {
  if (c == '\n' || c == '\r' || c == '\t') return ' ';
  if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return kReplacement;
  if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)) return kReplacement;
  return c;
}

}  // namespace

std::string Sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t c = kReplacement;
    if (!NextCodePoint(s, i, c)) c = kReplacement;
    AppendUtf8(SafeCodePoint(c), out);
  }
  return out;
}

size_t DisplayWidth(std::string_view s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t c = kReplacement;
    if (!NextCodePoint(s, i, c)) c = kReplacement;
    w += CodePointWidth(SafeCodePoint(c));
  }
  return w;
}

std::string Truncate(std::string_view s, size_t width) {
  std::string safe = Sanitize(s);
  if (DisplayWidth(safe) <= width) return safe;
  if (width == 0) return "";
  std::string out;
  size_t used = 0;
  for (size_t i = 0; i < safe.size();) {
    size_t start = i;
    char32_t c = kReplacement;
    NextCodePoint(safe, i, c);  // valid: Sanitize wrote it
    size_t w = CodePointWidth(c);
    if (used + w > width - 1) break;
    used += w;
    out.append(safe, start, i - start);
  }
  return out + "…";
}

std::string PadRight(std::string_view s, size_t width) {
  std::string t = Truncate(s, width);
  t.append(width - DisplayWidth(t), ' ');
  return t;
}

std::string PadLeft(std::string_view s, size_t width) {
  std::string t = Truncate(s, width);
  return std::string(width - DisplayWidth(t), ' ') + t;
}

std::string FormatMillis(double ms) {
  if (!(ms >= 0)) return "-";
  char b[32];
  if (ms < 10) {
    std::snprintf(b, sizeof b, "%.1fms", ms);
  } else if (ms < 999.5) {
    std::snprintf(b, sizeof b, "%.0fms", ms);
  } else if (ms < 9995) {
    std::snprintf(b, sizeof b, "%.2fs", ms / 1000);
  } else if (ms < 59950) {
    std::snprintf(b, sizeof b, "%.1fs", ms / 1000);
  } else if (ms < 3600000) {
    auto s = static_cast<long long>(std::llround(ms / 1000));
    std::snprintf(b, sizeof b, "%lldm%02llds", s / 60, s % 60);
  } else {
    auto m = static_cast<long long>(std::llround(ms / 60000));
    std::snprintf(b, sizeof b, "%lldh%02lldm", m / 60, m % 60);
  }
  return b;
}

std::string FormatTokens(uint64_t n) {
  char b[32];
  if (n < 10000) {
    if (n < 1000) return std::to_string(n);
    std::snprintf(b, sizeof b, "%llu,%03llu", static_cast<unsigned long long>(n / 1000),
                  static_cast<unsigned long long>(n % 1000));
  } else if (n < 999950) {
    std::snprintf(b, sizeof b, "%.1fk", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(b, sizeof b, "%.1fM", static_cast<double>(n) / 1e6);
  }
  return b;
}

std::string FormatCost(double usd) {
  if (!(usd > 0)) return "-";
  char b[48];
  if (usd >= 1) {
    std::snprintf(b, sizeof b, "$%.2f", usd);
    return b;
  }
  // Three significant digits, at most 8 decimals, trailing zeros dropped.
  int decimals = 2 - static_cast<int>(std::floor(std::log10(usd)));
  decimals = decimals < 3 ? 3 : decimals > 8 ? 8 : decimals;
  std::snprintf(b, sizeof b, "$%.*f", decimals, usd);
  std::string s = b;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "$0" ? "<$0.00000001" : s;
}

std::string FormatTime(std::string_view rfc3339, bool utc, bool with_date, bool with_millis) {
  std::optional<int64_t> ns = ParseRfc3339(rfc3339);
  if (!ns) return Sanitize(rfc3339);
  int64_t secs = *ns >= 0 ? *ns / 1000000000 : (*ns - 999999999) / 1000000000;
  auto t = static_cast<time_t>(secs);
  tm parts{};
  if ((utc ? gmtime_r(&t, &parts) : localtime_r(&t, &parts)) == nullptr) return Sanitize(rfc3339);
  char b[64];
  size_t n = strftime(b, sizeof b, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &parts);
  std::string out(b, n);
  if (with_millis) {
    std::snprintf(b, sizeof b, ".%03lld", static_cast<long long>((*ns - secs * 1000000000) / 1000000));
    out += b;
  }
  return out;
}

std::string ShortId(std::string_view id, bool full) { return Sanitize(full || id.size() <= 8 ? id : id.substr(0, 8)); }

std::string Colour(std::string_view text, std::string_view sgr, bool on) {
  if (!on || text.empty()) return std::string(text);
  return "\x1b[" + std::string(sgr) + "m" + std::string(text) + "\x1b[0m";
}

std::string TimelineBar(double offset_ms, double duration_ms, double total_ms, size_t width) {
  if (width == 0) return "▕▏";
  if (!(offset_ms >= 0)) offset_ms = 0;
  if (!(duration_ms >= 0)) duration_ms = 0;
  if (!(total_ms > 0)) total_ms = offset_ms + duration_ms > 0 ? offset_ms + duration_ms : 1;
  double scale = static_cast<double>(width) / total_ms;
  double from = std::floor(offset_ms * scale + 1e-9);
  double to = std::ceil((offset_ms + duration_ms) * scale - 1e-9);
  size_t s = from < 0 ? 0 : from >= static_cast<double>(width) ? width - 1 : static_cast<size_t>(from);
  size_t e = to > static_cast<double>(width) ? width : to <= static_cast<double>(s) ? s + 1 : static_cast<size_t>(to);
  std::string out = "▕";
  for (size_t i = 0; i < width; ++i) out += (i >= s && i < e) ? "█" : " ";
  return out + "▏";
}

namespace {

std::string CollapseSpaces(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string OneLine(const nlohmann::json& v) {
  using nlohmann::json;
  if (v.is_null()) return "";
  if (v.is_string()) return CollapseSpaces(v.get_ref<const std::string&>());
  if (v.is_array() && !v.empty()) {
    const json& last = v.back();
    if (last.is_object() && (last.contains("content") || last.contains("text"))) return OneLine(last);
  }
  if (v.is_object()) {
    for (const char* key : {"messages", "content", "text", "query", "question", "prompt", "answer", "completion"}) {
      auto it = v.find(key);
      if (it != v.end() && !it->is_null()) return OneLine(*it);
    }
  }
  return CollapseSpaces(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace spanvault::cli
