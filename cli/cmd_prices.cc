// spanvault prices quote/list: the price tables, read here (no daemon).
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/util.h"
#include "cost/decimal.h"
#include "cost/price_book.h"

namespace spanvault::cli {
using nlohmann::json;

namespace {
std::string Usd(int64_t picodollars) { return cost::FormatDecimal(picodollars, 12); }
std::string PerMtok(cost::PriceUnits units) { return cost::FormatDecimal(units, cost::kPriceScale); }
}  // namespace

int CmdQuote(const QuoteArgs& a) {
  auto book = cost::LoadPriceBook(a.tables);
  if (!book) return Die(book.error().message);
  int64_t at = NowNanos();
  if (!a.at.empty()) {
    auto t = ParseRfc3339(a.at);
    if (!t) return Die("--at " + a.at + " is not an RFC 3339 time");
    at = *t;
  }
  span::Usage usage;
  usage.input_tokens = a.input;
  usage.output_tokens = a.output;
  usage.cache_read_tokens = a.cache_read;
  usage.cache_write_tokens = a.cache_write;
  usage.reasoning_tokens = a.reasoning;
  auto match = (*book)->Lookup(a.provider, a.model, at, a.input);
  if (!match) return Die("no price for model \"" + a.model + "\"" + (a.provider.empty() ? "" : " of " + a.provider), 1);
  auto c = cost::PriceBook::Compute(*match, usage);
  if (!c) return Die(c.error().message, 1);
  if (a.as_json) {
    // The cost object exactly as spans carry it (exact decimals; re-dumping it
    // through a JSON library would print doubles), plus where it came from.
    std::string out;
    cost::AppendCostJson(*c, out);
    out.pop_back();
    out += ",\"table\":" + json(match->table->source()).dump();
    if (!c->version.empty()) out += ",\"version\":" + json(c->version).dump();
    if (!c->window.empty()) out += ",\"window\":" + json(c->window).dump();
    std::printf("%s}\n", out.c_str());
    return 0;
  }
  const cost::ResolvedPrices& p = match->prices;
  std::printf("model      %s (price %s from %s%s%s)\n", a.model.c_str(), c->price_id.c_str(),
              match->table->source().c_str(), c->version.empty() ? "" : (", version from " + c->version).c_str(),
              c->window.empty() ? "" : (", time-of-day " + c->window).c_str());
  std::printf("%-12s %12s %16s %18s\n", "part", "tokens", "USD per 1M", "USD");
  auto row = [](const char* name, uint64_t tokens, cost::PriceUnits price, int64_t usd) {
    std::printf("%-12s %12llu %16s %18s\n", name, static_cast<unsigned long long>(tokens), PerMtok(price).c_str(),
                Usd(usd).c_str());
  };
  row("input", a.input - std::min(a.input, a.cache_read + a.cache_write), p.input, c->input);
  row("cache_read", a.cache_read, p.cache_read, c->cache_read);
  row("cache_write", a.cache_write, p.cache_write, c->cache_write);
  row("output", a.output - std::min(a.output, a.reasoning), p.output, c->output);
  row("reasoning", a.reasoning, p.reasoning, c->reasoning);
  if (c->request != 0) std::printf("%-12s %12s %16s %18s\n", "per request", "", "", Usd(c->request).c_str());
  std::printf("%-12s %12s %16s %18s\n", "total", "", "", Usd(c->total).c_str());
  return 0;
}

int CmdPricesList(const std::vector<std::string>& tables, const std::string& provider, bool as_json) {
  auto book = cost::LoadPriceBook(tables);
  if (!book) return Die(book.error().message);
  std::string want = provider.empty() ? "" : cost::CanonicalProvider(provider);
  for (const auto& t : (*book)->tables()) {
    for (const auto& m : t->models()) {
      if (!want.empty() && m.provider != want) continue;
      cost::ResolvedPrices p = cost::Resolve(m.prices, 0);
      if (as_json) {
        json j = {{"table", t->source()},
                  {"provider", m.provider},
                  {"model", m.id},
                  {"input", PerMtok(p.input)},
                  {"output", PerMtok(p.output)},
                  {"cache_read", PerMtok(p.cache_read)},
                  {"cache_write", PerMtok(p.cache_write)},
                  {"versions", m.versions.size()},
                  {"tiers", m.prices.tiers.size()}};
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%-16s %-48s in %-10s out %-10s cache_read %-10s%s%s\n", m.provider.c_str(), m.id.c_str(),
                    PerMtok(p.input).c_str(), PerMtok(p.output).c_str(), PerMtok(p.cache_read).c_str(),
                    m.prices.tiers.empty() ? "" : "  (tiered)", m.versions.empty() ? "" : "  (versioned)");
      }
    }
  }
  return 0;
}

}  // namespace spanvault::cli
