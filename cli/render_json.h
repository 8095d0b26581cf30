// Reading the daemon's JSON answers without exceptions: a field of the wrong
// type (or null, as a trace's name before its root arrived) reads as the
// default. Shared by the cli/render_*.cc files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace spanvault::cli {

inline const nlohmann::json& Field(const nlohmann::json& j, std::string_view key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline std::string Str(const nlohmann::json& j, std::string_view key, std::string_view def = "") {
  const nlohmann::json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string(def);
}

inline double Num(const nlohmann::json& j, std::string_view key, double def = 0) {
  const nlohmann::json& v = Field(j, key);
  return v.is_number() ? v.get<double>() : def;
}

inline uint64_t U64(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json& v = Field(j, key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) return v.get<int64_t>() > 0 ? static_cast<uint64_t>(v.get<int64_t>()) : 0;
  if (v.is_number_float()) return v.get<double>() > 0 ? static_cast<uint64_t>(v.get<double>()) : 0;
  return 0;
}

// A cost in USD: a number (summaries) or a span's {"total": N, ...}.
inline double Cost(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json& v = Field(j, key);
  return v.is_object() ? Num(v, "total") : v.is_number() ? v.get<double>() : 0;
}

}  // namespace spanvault::cli
