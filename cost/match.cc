#include "cost/match.h"

#include <cctype>

namespace spanvault::cost {
namespace {

// The literal text an anchored regex must start with ("^gpt-5\\.4-\\d" ->
// "gpt-5.4-"), so most regex rules reject a name with a memcmp instead of
// running std::regex (slow, and tried on every unpriced span).
std::string LiteralPrefix(std::string_view re) {
  std::string out;
  if (!re.starts_with('^') || re.find('|') != std::string_view::npos) return out;
  for (size_t i = 1; i < re.size(); ++i) {
    char c = re[i];
    char lit = 0;
    size_t next = i + 1;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '/' || c == ':' || c == '@' ||
        c == ' ' || c == ',' || c == '=') {
      lit = c;
    } else if (c == '\\' && i + 1 < re.size() &&
               std::string_view(".-/_[]()+*?{}").find(re[i + 1]) != std::string_view::npos) {
      lit = re[i + 1];
      next = i + 2;
    } else {
      break;
    }
    // A quantified literal is optional or repeated: stop before it.
    if (next < re.size() && (re[next] == '?' || re[next] == '*' || re[next] == '{' || re[next] == '+')) break;
    out.push_back(lit);
    i = next - 1;
  }
  return out;
}

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

MatchRule MatchRule::Equals(std::string_view value) {
  MatchRule r;
  r.kind_ = Kind::kEquals;
  r.value_ = AsciiLower(value);
  return r;
}

Result<MatchRule> MatchRule::FromJson(const nlohmann::json& j) {
  if (!j.is_object() || j.size() != 1) {
    return Fail(Error::Invalid("match rule must be an object with exactly one key"));
  }
  auto first = j.begin();
  const std::string& key = first.key();
  const nlohmann::json& value = first.value();
  MatchRule r;
  if (key == "or" || key == "and") {
    r.kind_ = key == "or" ? Kind::kOr : Kind::kAnd;
    if (!value.is_array() || value.empty()) return Fail(Error::Invalid("match \"" + key + "\" needs a non-empty list"));
    for (const auto& child : value) {
      auto c = FromJson(child);
      if (!c) return Fail(c.error());
      r.children_.push_back(std::move(*c));
    }
    return r;
  }
  if (!value.is_string()) return Fail(Error::Invalid("match \"" + key + "\" needs a string"));
  const std::string& s = value.get_ref<const std::string&>();
  if (key == "equals") {
    r.kind_ = Kind::kEquals;
  } else if (key == "starts_with") {
    r.kind_ = Kind::kStartsWith;
  } else if (key == "ends_with") {
    r.kind_ = Kind::kEndsWith;
  } else if (key == "contains") {
    r.kind_ = Kind::kContains;
  } else if (key == "regex") {
    r.kind_ = Kind::kRegex;
    r.value_ = s;
    try {
      r.regex_ = std::make_shared<const std::regex>(s, std::regex::ECMAScript | std::regex::optimize);
      r.regex_prefix_ = LiteralPrefix(s);
    } catch (const std::regex_error& e) {
      return Fail(Error::Invalid("bad regex \"" + s + "\": " + e.what()));
    }
    return r;
  } else {
    return Fail(Error::Invalid("unknown match rule \"" + key + "\""));
  }
  r.value_ = AsciiLower(s);
  return r;
}

bool MatchRule::Matches(std::string_view lower, std::string_view original) const {
  switch (kind_) {
    case Kind::kEquals:
      return lower == value_;
    case Kind::kStartsWith:
      return lower.starts_with(value_);
    case Kind::kEndsWith:
      return lower.ends_with(value_);
    case Kind::kContains:
      return lower.find(value_) != std::string_view::npos;
    case Kind::kRegex:
      if (original.size() > kMaxRegexName || !original.starts_with(regex_prefix_)) return false;
      try {
        return std::regex_search(original.begin(), original.end(), *regex_);
      } catch (const std::regex_error&) {
        return false;  // complexity limits on a pathological name: no match
      }
    case Kind::kOr:
      for (const auto& c : children_) {
        if (c.Matches(lower, original)) return true;
      }
      return false;
    case Kind::kAnd:
      for (const auto& c : children_) {
        if (!c.Matches(lower, original)) return false;
      }
      return true;
  }
  return false;
}

void MatchRule::CollectEquals(std::vector<std::string>& out) const {
  if (kind_ == Kind::kEquals) {
    out.push_back(value_);
  } else if (kind_ == Kind::kOr) {
    for (const auto& c : children_) {
      if (c.kind_ == Kind::kEquals) out.push_back(c.value_);
    }
  }
}

bool MatchRule::IsPureEquals() const {
  if (kind_ == Kind::kEquals) return true;
  if (kind_ != Kind::kOr) return false;
  for (const auto& c : children_) {
    if (c.kind_ != Kind::kEquals) return false;
  }
  return true;
}

}  // namespace spanvault::cost
