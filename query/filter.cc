// See filter.h.
#include "query/filter.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/util.h"

namespace spanvault::query::internal {
namespace {

using Field = buffer::TraceIndex::Field;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<double> Number(std::string_view s) {
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// RFC 3339, Unix seconds, or a duration before now.
std::optional<int64_t> Time(std::string_view s, int64_t now_ns) {
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    auto d = Number(s);
    if (!d || *d > 9e9) return std::nullopt;
    return static_cast<int64_t>(*d * 1e9);
  }
  if (auto t = ParseRfc3339(s)) return t;
  if (auto d = ParseDuration(s)) return now_ns - std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
  return std::nullopt;
}

std::optional<uint64_t> DecodeCursor(std::string_view s) {
  if (s.size() < 2 || s[0] != 'c') return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + 1, s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

bool Has(const std::vector<std::string>& set, const std::string& v) {
  return std::binary_search(set.begin(), set.end(), v);
}

Status Bad(std::string reason) { return Fail(Error::Invalid(std::move(reason))); }

Status Apply(Filter& f, const std::string& k, const std::string& v, int64_t now_ns, size_t max_limit) {
  static const std::pair<const char*, Field> kKeys[] = {
      {"service", Field::kService}, {"session", Field::kSession},
      {"user", Field::kUser},       {"environment", Field::kEnvironment},
      {"model", Field::kModel},     {"type", Field::kType},
      {"tag", Field::kTag}};
  for (const auto& [name, field] : kKeys) {
    if (k == name) {
      f.keys.push_back({field, v});
      return {};
    }
  }
  if (k == "from" || k == "to") {
    auto t = Time(v, now_ns);
    if (!t) return Bad("bad time for " + k + ": \"" + v + "\" (RFC 3339, Unix seconds or a duration like 15m)");
    (k == "from" ? f.from_ns : f.to_ns) = *t;
  } else if (k == "status") {
    if (v != "error" && v != "ok") return Bad("status must be error or ok, not \"" + v + "\"");
    f.error = v == "error";
  } else if (k == "min_cost" || k == "min_duration_ms") {
    auto d = Number(v);
    if (!d || *d < 0) return Bad("bad number for " + k + ": \"" + v + "\"");
    (k == "min_cost" ? f.min_cost : f.min_duration_ms) = *d;
  } else if (k == "q") {
    f.q = Lower(v);
  } else if (k == "limit") {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < 1 || (max_limit != 0 && n > max_limit)) {
      return Bad("bad number for limit: \"" + v + "\" (1-" +
                 (max_limit ? std::to_string(max_limit) : std::string("any")) + ")");
    }
    f.limit = n;
    f.limit_set = true;
  } else if (k == "cursor") {
    auto c = DecodeCursor(v);
    if (!c) return Bad("bad cursor: \"" + v + "\"");
    f.cursor = *c;
  } else {
    return Bad("unknown parameter: " + k);
  }
  return {};
}

}  // namespace

std::string Filter::Extra(std::string_view name, std::string_view fallback) const {
  for (const auto& [k, v] : extra) {
    if (k == name) return v;
  }
  return std::string(fallback);
}

Result<Filter> ParseFilter(const Request& req, const std::vector<std::string_view>& allowed_extra, size_t max_limit,
                           int64_t now_ns) {
  Filter f;
  for (const auto& [k, v] : req.params) {
    if (std::find(allowed_extra.begin(), allowed_extra.end(), k) != allowed_extra.end()) {
      f.extra.emplace_back(k, v);
      continue;
    }
    if (auto st = Apply(f, k, v, now_ns, max_limit); !st) return Fail(st.error());
  }
  return f;
}

std::optional<buffer::TraceIndex::Key> DriverKey(const Filter& f) {
  static const Field kOrder[] = {Field::kSession, Field::kUser,        Field::kTag, Field::kModel,
                                 Field::kService, Field::kEnvironment, Field::kType};
  for (Field want : kOrder) {
    for (const auto& k : f.keys) {
      if (k.field == want) return k;
    }
  }
  if (f.error == true) return buffer::TraceIndex::Key{Field::kError, ""};
  return std::nullopt;
}

bool Matches(const buffer::TraceSummary& t, const Filter& f) {
  for (const auto& k : f.keys) {
    const std::vector<std::string>* set = nullptr;
    switch (k.field) {
      case Field::kService:
        set = &t.services;
        break;
      case Field::kSession:
        set = &t.sessions;
        break;
      case Field::kUser:
        set = &t.users;
        break;
      case Field::kEnvironment:
        set = &t.environments;
        break;
      case Field::kModel:
        set = &t.models;
        break;
      case Field::kType:
        set = &t.types;
        break;
      case Field::kTag:
        set = &t.tags;
        break;
      case Field::kError:
        break;
    }
    if (set != nullptr && !Has(*set, k.value)) return false;
  }
  if (f.error && (t.errors > 0) != *f.error) return false;
  if (f.from_ns || f.to_ns) {
    const int64_t start = t.start_ns();
    if (f.from_ns && start < *f.from_ns) return false;
    if (f.to_ns && start >= *f.to_ns) return false;
  }
  if (f.min_cost && t.cost < *f.min_cost) return false;
  if (f.min_duration_ms && t.duration_ms() < *f.min_duration_ms) return false;
  if (!f.q.empty()) {
    bool found = Lower(t.name).find(f.q) != std::string::npos;
    for (size_t i = 0; !found && i < t.names.size(); ++i) found = Lower(t.names[i]).find(f.q) != std::string::npos;
    if (!found) return false;
  }
  return true;
}

std::string EncodeCursor(uint64_t first_seq) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, first_seq, 16);
  return "c" + std::string(buf, p);
}

}  // namespace spanvault::query::internal
