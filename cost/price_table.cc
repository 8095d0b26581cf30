#include "cost/price_table.h"

#include <algorithm>
#include <chrono>

#include "cost/exact_json.h"
#include "cost/table_internal.h"

// Loading validates everything up front and reports each broken model (up to
// kMaxReported), so a user fixing a file sees all problems in one go. The
// indexes (provider ids, exact names, pattern lists) are built once in
// Index(); lookups only read them.

extern const unsigned char kSpanvaultBuiltinPrices[];
extern const unsigned long kSpanvaultBuiltinPricesSize;

namespace spanvault::cost {

using nlohmann::json;

namespace internal {

Result<PriceUnits> ParsePrice(const json& v, int scale, std::string_view what) {
  std::optional<Int128> units;
  if (v.is_string()) {
    units = ParseDecimal(v.get_ref<const std::string&>(), scale);
  } else if (v.is_number_integer()) {
    units = ParseDecimal(v.dump(), scale);
  }
  if (!units) return Fail(Error::Invalid(std::string(what) + ": not a decimal number: " + v.dump()));
  if (*units < 0) return Fail(Error::Invalid(std::string(what) + ": negative price"));
  return *units;
}

std::optional<int64_t> ParseDateNs(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0, m = 0, d = 0;
  for (size_t i : {0, 1, 2, 3}) y = y * 10 + (s[i] - '0');
  for (size_t i : {5, 6}) m = m * 10 + (s[i] - '0');
  for (size_t i : {8, 9}) d = d * 10 + (s[i] - '0');
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(m)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  // Midnights that int64 nanoseconds hold: 1677-09-22 to 2262-04-11.
  constexpr int64_t kNsPerDay = 86'400'000'000'000LL;
  constexpr int64_t kMaxDays = INT64_MAX / kNsPerDay;
  const int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  if (days > kMaxDays || days < -kMaxDays) return std::nullopt;
  return days * kNsPerDay;
}

}  // namespace internal

namespace {

constexpr size_t kMaxReported = 20;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

Status ParseSetInto(const json& obj, PriceSet& set, bool is_tier, std::string_view where) {
  for (const auto& [key, value] : obj.items()) {
    std::optional<PriceUnits>* slot = nullptr;
    if (key == "input")
      slot = &set.input;
    else if (key == "output")
      slot = &set.output;
    else if (key == "cache_read")
      slot = &set.cache_read;
    else if (key == "cache_write")
      slot = &set.cache_write;
    else if (key == "reasoning")
      slot = &set.reasoning;
    else if (key == "per_request")
      slot = &set.per_request;
    else if (key == "tiers" && !is_tier)
      continue;
    else if (key == "above_input_tokens" && is_tier)
      continue;
    else
      return Fail(Error::Invalid(std::string(where) + ": unknown price key \"" + key + "\""));
    auto p = internal::ParsePrice(value, kPriceScale, std::string(where) + "." + key);
    if (!p) return Fail(p.error());
    *slot = *p;
  }
  return {};
}

Result<PriceLevel> ParseLevel(const json& obj, const std::string& where) {
  if (!obj.is_object()) return Fail(Error::Invalid(where + ": prices must be an object"));
  PriceLevel level;
  if (auto s = ParseSetInto(obj, level.base, false, where); !s) return Fail(s.error());
  auto tiers = obj.find("tiers");
  if (tiers != obj.end()) {
    if (!tiers->is_array()) return Fail(Error::Invalid(where + ".tiers: must be a list"));
    for (const auto& t : *tiers) {
      auto above = t.is_object() ? t.find("above_input_tokens") : t.end();
      if (!t.is_object() || above == t.end() || !above->is_number_integer() || above->get<int64_t>() < 0) {
        return Fail(Error::Invalid(where + ".tiers: each tier needs a non-negative integer above_input_tokens"));
      }
      Tier tier;
      tier.above_input_tokens = above->get<uint64_t>();
      if (auto s = ParseSetInto(t, tier.prices, true, where + ".tiers"); !s) return Fail(s.error());
      level.tiers.push_back(std::move(tier));
    }
    std::sort(level.tiers.begin(), level.tiers.end(),
              [](const Tier& a, const Tier& b) { return a.above_input_tokens < b.above_input_tokens; });
  }
  return level;
}

std::optional<uint32_t> ParseTimeOfDay(std::string_view s) {
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) s.remove_suffix(1);
  if (s.size() != 5 && s.size() != 8) return std::nullopt;
  auto two = [&](size_t i) -> int {
    if (s[i] < '0' || s[i] > '9' || s[i + 1] < '0' || s[i + 1] > '9') return -1;
    return (s[i] - '0') * 10 + (s[i + 1] - '0');
  };
  int h = two(0), m = s[2] == ':' ? two(3) : -1, sec = 0;
  if (s.size() == 8) sec = s[5] == ':' ? two(6) : -1;
  if (h < 0 || h > 24 || m < 0 || m > 59 || sec < 0 || sec > 59 || (h == 24 && (m || sec))) return std::nullopt;
  return static_cast<uint32_t>(h * 3600 + m * 60 + sec);
}

const std::string* StringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

Result<ModelPrice> ParseModel(const json& m, size_t index) {
  std::string where = "models[" + std::to_string(index) + "]";
  if (!m.is_object()) return Fail(Error::Invalid(where + ": must be an object"));
  const std::string* provider = StringField(m, "provider");
  const std::string* id = StringField(m, "id");
  if (!provider || provider->empty()) return Fail(Error::Invalid(where + ": \"provider\" (string) is required"));
  if (!id || id->empty()) return Fail(Error::Invalid(where + ": \"id\" (string) is required"));
  where += " (" + *provider + "/" + *id + ")";
  for (const auto& [key, _] : m.items()) {
    if (key != "provider" && key != "id" && key != "match" && key != "prices" && key != "versions" &&
        key != "windows" && key != "name") {
      return Fail(Error::Invalid(where + ": unknown key \"" + key + "\""));
    }
  }
  ModelPrice model;
  model.provider = CanonicalProvider(*provider);
  model.id = *id;
  if (auto it = m.find("match"); it != m.end()) {
    auto rule = MatchRule::FromJson(*it);
    if (!rule) return Fail(Error::Invalid(where + ".match: " + rule.error().message));
    model.match = std::move(*rule);
  } else {
    model.match = MatchRule::Equals(*id);
  }
  auto prices = m.find("prices");
  if (prices == m.end()) return Fail(Error::Invalid(where + ": \"prices\" is required"));
  auto level = ParseLevel(*prices, where + ".prices");
  if (!level) return Fail(level.error());
  model.prices = std::move(*level);
  if (auto it = m.find("versions"); it != m.end()) {
    if (!it->is_array()) return Fail(Error::Invalid(where + ".versions: must be a list"));
    for (const auto& v : *it) {
      const std::string* from = v.is_object() ? StringField(v, "valid_from") : nullptr;
      std::optional<int64_t> ns = from ? internal::ParseDateNs(*from) : std::nullopt;
      if (!ns) {
        return Fail(
            Error::Invalid(where + ".versions: each needs valid_from = \"YYYY-MM-DD\" (1677-09-22 to 2262-04-11)"));
      }
      auto p = v.find("prices");
      if (p == v.end()) return Fail(Error::Invalid(where + ".versions[" + *from + "]: \"prices\" is required"));
      auto vl = ParseLevel(*p, where + ".versions[" + *from + "].prices");
      if (!vl) return Fail(vl.error());
      model.versions.push_back({*from, *ns, std::move(*vl)});
    }
    std::stable_sort(model.versions.begin(), model.versions.end(),
                     [](const PriceVersion& a, const PriceVersion& b) { return a.valid_from_ns < b.valid_from_ns; });
  }
  if (auto it = m.find("windows"); it != m.end()) {
    if (!it->is_array()) return Fail(Error::Invalid(where + ".windows: must be a list"));
    for (const auto& w : *it) {
      const std::string* start = w.is_object() ? StringField(w, "start") : nullptr;
      const std::string* end = w.is_object() ? StringField(w, "end") : nullptr;
      auto s = start ? ParseTimeOfDay(*start) : std::nullopt;
      auto e = end ? ParseTimeOfDay(*end) : std::nullopt;
      if (!s || !e || *s == *e) {
        return Fail(Error::Invalid(where + ".windows: each needs distinct start and end = \"HH:MM[:SS]\" (UTC)"));
      }
      auto p = w.find("prices");
      if (p == w.end()) return Fail(Error::Invalid(where + ".windows: \"prices\" is required"));
      auto wl = ParseLevel(*p, where + ".windows.prices");
      if (!wl) return Fail(wl.error());
      model.windows.push_back({*s, *e, *start + "-" + *end, std::move(*wl)});
    }
  }
  return model;
}

}  // namespace

const PriceLevel& ModelPrice::LevelAt(int64_t start_ns, const PriceVersion** version,
                                      const PriceWindow** window) const {
  *version = nullptr;
  *window = nullptr;
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (start_ns >= it->valid_from_ns) {
      *version = &*it;
      break;
    }
  }
  if (!windows.empty()) {
    int64_t secs = start_ns / kNsPerSecond;
    if (start_ns % kNsPerSecond < 0) --secs;
    int64_t sod = ((secs % kSecondsPerDay) + kSecondsPerDay) % kSecondsPerDay;
    for (auto it = windows.rbegin(); it != windows.rend(); ++it) {
      bool active =
          it->start_s < it->end_s ? (sod >= it->start_s && sod < it->end_s) : (sod >= it->start_s || sod < it->end_s);
      if (active) {
        *window = &*it;
        return it->prices;
      }
    }
  }
  return *version ? (*version)->prices : prices;
}

ResolvedPrices Resolve(const PriceLevel& level, uint64_t input_tokens) {
  PriceSet set = level.base;
  for (const Tier& t : level.tiers) {
    if (input_tokens <= t.above_input_tokens) break;
    const PriceSet& p = t.prices;
    if (p.input) set.input = p.input;
    if (p.output) set.output = p.output;
    if (p.cache_read) set.cache_read = p.cache_read;
    if (p.cache_write) set.cache_write = p.cache_write;
    if (p.reasoning) set.reasoning = p.reasoning;
    if (p.per_request) set.per_request = p.per_request;
  }
  ResolvedPrices r;
  r.input = set.input.value_or(0);
  r.output = set.output.value_or(0);
  r.cache_read = set.cache_read.value_or(r.input);
  r.cache_write = set.cache_write.value_or(r.input);
  r.reasoning = set.reasoning.value_or(r.output);
  r.per_request = set.per_request.value_or(0);
  return r;
}

PriceTable::Provider& PriceTable::ProviderFor(const std::string& id) {
  auto it = provider_index_.find(id);
  if (it != provider_index_.end()) return providers_[it->second];
  provider_index_.emplace(id, static_cast<uint32_t>(providers_.size()));
  providers_.push_back(Provider{.id = id});
  return providers_.back();
}

Status PriceTable::AddProviders(const json& list) {
  if (!list.is_array()) return Fail(Error::Invalid("providers: must be a list"));
  for (size_t i = 0; i < list.size(); ++i) {
    const json& p = list[i];
    std::string where = "providers[" + std::to_string(i) + "]";
    const std::string* id = p.is_object() ? StringField(p, "id") : nullptr;
    if (!id || id->empty()) return Fail(Error::Invalid(where + ": \"id\" (string) is required"));
    Provider& prov = ProviderFor(CanonicalProvider(*id));
    for (const char* key : {"model_match", "provider_match"}) {
      auto it = p.find(key);
      if (it == p.end()) continue;
      auto rule = MatchRule::FromJson(*it);
      if (!rule) return Fail(Error::Invalid(where + "." + key + ": " + rule.error().message));
      (std::string_view(key) == "model_match" ? prov.model_match : prov.provider_match) = std::move(*rule);
    }
    if (auto it = p.find("fallback"); it != p.end()) {
      if (!it->is_array()) return Fail(Error::Invalid(where + ".fallback: must be a list of provider ids"));
      for (const auto& f : *it) {
        if (!f.is_string()) return Fail(Error::Invalid(where + ".fallback: must be a list of provider ids"));
        prov.fallback.push_back(CanonicalProvider(f.get_ref<const std::string&>()));
      }
    }
  }
  return {};
}

void PriceTable::Add(ModelPrice model) {
  model.provider = CanonicalProvider(model.provider);
  models_.push_back(std::move(model));
}

void PriceTable::Index() {
  global_exact_.clear();
  global_patterns_.clear();
  for (Provider& p : providers_) {
    p.exact.clear();
    p.patterns.clear();
  }
  std::vector<std::string> names;
  for (uint32_t i = 0; i < models_.size(); ++i) {
    const ModelPrice& m = models_[i];
    Provider& p = ProviderFor(m.provider);
    names.clear();
    m.match.CollectEquals(names);
    for (const std::string& n : names) {
      p.exact.emplace(n, i);  // first in table order wins
      global_exact_.emplace(n, i);
    }
    if (!m.match.IsPureEquals()) {
      p.patterns.push_back(i);
      global_patterns_.push_back(i);
    }
  }
}

Result<PriceTable> PriceTable::FromTree(const json& root) {
  if (!root.is_object()) return Fail(Error::Invalid("a price file is an object with a \"models\" list"));
  PriceTable table;
  if (const std::string* s = StringField(root, "source")) table.source_ = *s;
  std::vector<std::string> problems;
  if (auto p = root.find("providers"); p != root.end()) {
    if (auto s = table.AddProviders(*p); !s) problems.push_back(s.error().message);
  }
  auto models = root.find("models");
  if (models == root.end() || !models->is_array()) {
    return Fail(Error::Invalid("a price file needs a \"models\" list"));
  }
  for (size_t i = 0; i < models->size(); ++i) {
    auto m = ParseModel((*models)[i], i);
    if (!m) {
      if (problems.size() < kMaxReported) problems.push_back(m.error().message);
      continue;
    }
    table.Add(std::move(*m));
  }
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
    return Fail(Error::Invalid(msg));
  }
  table.Index();
  return table;
}

Result<PriceTable> PriceTable::FromJson(std::string_view text) {
  auto root = ParseExactJson(text);
  if (!root) return Fail(root.error());
  return FromTree(*root);
}

Result<PriceTable> PriceTable::FromToml(std::string_view text) {
  auto root = ParseExactToml(text);
  if (!root) return Fail(root.error());
  return FromTree(*root);
}

std::shared_ptr<const PriceTable> PriceTable::BuiltIn() {
  static const std::shared_ptr<const PriceTable> table = [] {
    auto t =
        FromJson(std::string_view(reinterpret_cast<const char*>(kSpanvaultBuiltinPrices), kSpanvaultBuiltinPricesSize));
    // The file is generated and tested at build time; failing here is a build
    // defect, and an empty table keeps the daemon running unpriced.
    return t ? std::make_shared<const PriceTable>(std::move(*t)) : std::make_shared<const PriceTable>();
  }();
  return table;
}

const PriceTable::Provider* PriceTable::ResolveProvider(std::string_view provider) const {
  std::string canonical = CanonicalProvider(provider);
  if (auto it = provider_index_.find(canonical); it != provider_index_.end()) return &providers_[it->second];
  std::string lower = AsciiLower(provider);
  for (const Provider& p : providers_) {
    if (p.provider_match && p.provider_match->Matches(lower, provider)) return &p;
  }
  return nullptr;
}

const ModelPrice* PriceTable::FindExact(const NameMap& map, std::string_view lower,
                                        std::optional<std::string_view> undated) const {
  if (auto it = map.find(lower); it != map.end()) return &models_[it->second];
  if (undated) {
    if (auto it = map.find(*undated); it != map.end()) return &models_[it->second];
  }
  return nullptr;
}

const ModelPrice* PriceTable::FindPattern(const std::vector<uint32_t>& idx, std::string_view lower,
                                          std::string_view original, std::optional<std::string_view> undated_lower,
                                          std::optional<std::string_view> undated_original) const {
  for (uint32_t i : idx) {
    if (models_[i].match.Matches(lower, original)) return &models_[i];
  }
  if (undated_lower) {
    for (uint32_t i : idx) {
      if (models_[i].match.Matches(*undated_lower, *undated_original)) return &models_[i];
    }
  }
  return nullptr;
}

const ModelPrice* PriceTable::FindIn(const Provider& p, std::string_view lower, std::string_view original,
                                     int depth) const {
  auto undated = StripDateSuffix(lower);
  auto undated_original = undated ? std::optional(original.substr(0, undated->size())) : std::nullopt;
  if (const ModelPrice* m = FindExact(p.exact, lower, undated)) return m;
  if (const ModelPrice* m = FindPattern(p.patterns, lower, original, undated, undated_original)) return m;
  if (depth > 0) return nullptr;  // fallbacks are one level deep: no cycles
  for (const std::string& f : p.fallback) {
    auto it = provider_index_.find(f);
    if (it == provider_index_.end()) continue;
    if (const ModelPrice* m = FindIn(providers_[it->second], lower, original, depth + 1)) return m;
  }
  return nullptr;
}

const ModelPrice* PriceTable::Find(std::string_view provider, std::string_view model, bool* provider_known) const {
  if (provider_known) *provider_known = false;
  if (provider.empty()) return FindAnyProvider(model);
  const Provider* p = ResolveProvider(provider);
  if (!p) return nullptr;
  if (provider_known) *provider_known = true;
  std::string lower = AsciiLower(model);
  return FindIn(*p, lower, model, 0);
}

const ModelPrice* PriceTable::FindAnyProvider(std::string_view model) const {
  std::string lower = AsciiLower(model);
  for (const Provider& p : providers_) {
    if (p.model_match && p.model_match->Matches(lower, model)) {
      if (const ModelPrice* m = FindIn(p, lower, model, 0)) return m;
    }
  }
  auto undated = StripDateSuffix(lower);
  auto undated_original = undated ? std::optional(model.substr(0, undated->size())) : std::nullopt;
  if (const ModelPrice* m = FindExact(global_exact_, lower, undated)) return m;
  return FindPattern(global_patterns_, lower, model, undated, undated_original);
}

}  // namespace spanvault::cost
