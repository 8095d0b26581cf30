#include "cost/price_book.h"

#include <fstream>
#include <sstream>

#include "cost/exact_json.h"

// Costs are computed in 128-bit integers: tokens (< 2^64) × price (≤ 10^30
// units) cannot overflow before the division by 10^6 that turns "10^-12 USD
// per 1M tokens" into picodollars. Each part is rounded once; the total is the
// sum of the rounded parts, so the rendered parts always add up.

namespace spanvault::cost {
namespace {

constexpr Int128 kTokensPerPrice = 1'000'000;
constexpr Int128 kRequestsPerPrice = 1'000;
constexpr Int128 kMaxPico = INT64_MAX;

void AppendJsonString(std::string_view s, std::string& out) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Error::Io("cannot open " + path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Fail(Error::Io("cannot read " + path));
  return ss.str();
}

}  // namespace

void AppendCostJson(const Cost& cost, std::string& out) {
  // `key` is `"name":` (one append per field: this runs for every priced span).
  auto field = [&](std::string_view key, int64_t v) {
    out.append(key);
    AppendDecimal(v, 12, out);
    out.push_back(',');
  };
  out.push_back('{');
  field("\"total\":", cost.total);
  field("\"input\":", cost.input);
  field("\"output\":", cost.output);
  field("\"cache_read\":", cost.cache_read);
  field("\"cache_write\":", cost.cache_write);
  field("\"reasoning\":", cost.reasoning);
  if (cost.request != 0) field("\"request\":", cost.request);
  out += "\"currency\":\"USD\",\"price_id\":";
  AppendJsonString(cost.price_id, out);
  out += ",\"source\":\"table\"}";
}

std::string Match::PriceId() const {
  std::string id = model->provider + "/" + model->id;
  if (version) id += "@" + version->valid_from;
  return id;
}

PriceBook::Found PriceBook::FindModel(std::string_view provider, std::string_view model) const {
  bool any_known = false;
  if (!provider.empty()) {
    for (const auto& t : tables_) {
      bool known = false;
      if (const ModelPrice* found = t->Find(provider, model, &known)) return {t.get(), found};
      any_known |= known;
    }
  }
  if (!any_known) {
    for (const auto& t : tables_) {
      if (const ModelPrice* found = t->FindAnyProvider(model)) return {t.get(), found};
    }
  }
  return {};
}

Match PriceBook::At(const Found& found, int64_t start_ns, uint64_t input_tokens) {
  Match m;
  m.table = found.table;
  m.model = found.model;
  const PriceLevel& level = found.model->LevelAt(start_ns, &m.version, &m.window);
  m.prices = Resolve(level, input_tokens);
  return m;
}

std::optional<Match> PriceBook::Lookup(std::string_view provider, std::string_view model, int64_t start_ns,
                                       uint64_t input_tokens) const {
  Found found = FindModel(provider, model);
  if (found.model == nullptr) return std::nullopt;
  return At(found, start_ns, input_tokens);
}

Result<Cost> PriceBook::Compute(const Match& match, const span::Usage& usage) {
  const uint64_t input = usage.input_tokens.value_or(0);
  const uint64_t output = usage.output_tokens.value_or(0);
  const uint64_t cache_read = usage.cache_read_tokens.value_or(0);
  const uint64_t cache_write = usage.cache_write_tokens.value_or(0);
  const uint64_t reasoning = usage.reasoning_tokens.value_or(0);
  if (static_cast<Int128>(cache_read) + cache_write > input) {
    return Fail(Error::Invalid("cache_read_tokens + cache_write_tokens exceed input_tokens"));
  }
  if (reasoning > output) return Fail(Error::Invalid("reasoning_tokens exceed output_tokens"));

  const ResolvedPrices& p = match.prices;
  Int128 parts[6];
  bool ok = MulDivRound(input - cache_read - cache_write, p.input, kTokensPerPrice, parts[0]) &&
            MulDivRound(output - reasoning, p.output, kTokensPerPrice, parts[1]) &&
            MulDivRound(cache_read, p.cache_read, kTokensPerPrice, parts[2]) &&
            MulDivRound(cache_write, p.cache_write, kTokensPerPrice, parts[3]) &&
            MulDivRound(reasoning, p.reasoning, kTokensPerPrice, parts[4]) &&
            MulDivRound(1, p.per_request, kRequestsPerPrice, parts[5]);
  Int128 total = 0;
  for (Int128 part : parts) {
    if (part > kMaxPico) ok = false;
    total += part;
  }
  if (!ok || total > kMaxPico) return Fail(Error::Invalid("cost overflows 64-bit picodollars"));

  Cost c;
  c.input = static_cast<int64_t>(parts[0]);
  c.output = static_cast<int64_t>(parts[1]);
  c.cache_read = static_cast<int64_t>(parts[2]);
  c.cache_write = static_cast<int64_t>(parts[3]);
  c.reasoning = static_cast<int64_t>(parts[4]);
  c.request = static_cast<int64_t>(parts[5]);
  c.total = static_cast<int64_t>(total);
  c.price_id = match.PriceId();
  if (match.version) c.version = match.version->valid_from;
  if (match.window) c.window = match.window->label;
  return c;
}

Result<std::optional<Cost>> PriceBook::Compute(const span::Usage& usage, std::string_view provider,
                                               std::string_view model, int64_t start_ns) const {
  auto match = Lookup(provider, model, start_ns, usage.input_tokens.value_or(0));
  if (!match) return std::optional<Cost>();
  auto cost = Compute(*match, usage);
  if (!cost) return Fail(cost.error());
  return std::optional<Cost>(std::move(*cost));
}

Result<std::shared_ptr<const PriceTable>> LoadPriceTable(const std::string& source) {
  if (source == "builtin") return PriceTable::BuiltIn();
  const bool litellm = source.starts_with("litellm:");
  const std::string path = litellm ? source.substr(8) : source;
  auto text = ReadFile(path);
  if (!text) return Fail(text.error());
  auto table = [&]() -> Result<PriceTable> {
    if (litellm) return PriceTable::FromLiteLlm(*text);
    if (path.ends_with(".toml")) return PriceTable::FromToml(*text);
    auto root = ParseExactJson(*text);
    if (!root) return Fail(root.error());
    // Detection: spanvault files have a "models" list; LiteLLM files are an
    // object of model entries.
    if (root->is_object() && !root->contains("models")) return PriceTable::FromLiteLlm(*text);
    return PriceTable::FromTree(*root);
  }();
  if (!table) return Fail(table.error());
  if (table->source().empty() || table->source() == "litellm") table->set_source(source);
  return std::make_shared<const PriceTable>(std::move(*table));
}

Result<std::shared_ptr<const PriceBook>> LoadPriceBook(const std::vector<std::string>& sources, bool with_builtin) {
  std::vector<std::shared_ptr<const PriceTable>> tables;
  std::string errors;
  bool has_builtin = false;
  for (const std::string& s : sources) {
    has_builtin |= s == "builtin";
    auto t = LoadPriceTable(s);
    if (!t) {
      errors += (errors.empty() ? "" : "\n") + s + ": " + t.error().message;
      continue;
    }
    tables.push_back(std::move(*t));
  }
  if (!errors.empty()) return Fail(Error::Invalid(errors));
  if (with_builtin && !has_builtin) tables.push_back(PriceTable::BuiltIn());
  return std::make_shared<const PriceBook>(std::move(tables));
}

}  // namespace spanvault::cost
