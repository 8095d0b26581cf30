// common/ — TOML values as text, for the configuration reference that
// `spanvaultd --print-config-reference` prints (config/config_reference.cc).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace spanvault {

// `s` as a TOML basic string, quotes included: a"b → "a\"b".
inline std::string TomlQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned char>(c));
      out += b;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// A size as ParseSize (common/util.h) reads it: "1GiB", "512MiB", "64KiB"
// (quoted) when a whole number of those, else the bare byte count (0, 1000).
inline std::string TomlSize(uint64_t bytes) {
  if (bytes != 0) {
    for (auto [unit, shift] :
         {std::pair{"TiB", 40}, std::pair{"GiB", 30}, std::pair{"MiB", 20}, std::pair{"KiB", 10}}) {
      if (bytes % (uint64_t{1} << shift) == 0) return "\"" + std::to_string(bytes >> shift) + unit + "\"";
    }
  }
  return std::to_string(bytes);
}

}  // namespace spanvault
