// cost/match — model-name match rules of a price table.
//
// A rule is one of equals / starts_with / ends_with / contains (ASCII
// case-insensitive), regex (ECMAScript, case-sensitive, searched anywhere in
// the name unless anchored), or / and (lists of rules). Values are lowercased
// and regexes compiled once at load; Matches() is const and thread-safe.
// A regex never matches a name longer than kMaxRegexName bytes: libstdc++'s
// std::regex recurses about once per character it consumes, and a span's
// model name may be as long as the span (a 50 KB name overflowed an 8 MiB
// stack on the built-in table's patterns).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace spanvault::cost {

// The longest name a regex rule is tried on (model names are far shorter).
inline constexpr size_t kMaxRegexName = 1024;

// ASCII lowercase copy.
std::string AsciiLower(std::string_view s);

class MatchRule {
 public:
  enum class Kind : uint8_t { kEquals, kStartsWith, kEndsWith, kContains, kRegex, kOr, kAnd };

  static MatchRule Equals(std::string_view value);
  // Parses {"equals": "..."}, {"or": [...]}, ...; exactly one key per object.
  static Result<MatchRule> FromJson(const nlohmann::json& j);

  // `lower` is the ASCII-lowercased name, `original` the name as given (for
  // regex rules).
  bool Matches(std::string_view lower, std::string_view original) const;

  // The lowercased names this rule accepts by equality alone: an equals rule,
  // or the equals branches of a top-level or. Used for the exact-name index.
  void CollectEquals(std::vector<std::string>& out) const;
  // True when the rule is an equals rule or an or of equals rules only (the
  // exact-name index then covers it completely).
  bool IsPureEquals() const;

  Kind kind() const { return kind_; }

 private:
  Kind kind_ = Kind::kEquals;
  std::string value_;                        // lowercased (kept as written for regex)
  std::shared_ptr<const std::regex> regex_;  // kRegex
  std::string regex_prefix_;                 // kRegex: literal every match starts with
  std::vector<MatchRule> children_;          // kOr, kAnd
};

}  // namespace spanvault::cost
