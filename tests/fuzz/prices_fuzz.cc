// fuzz-flags: -max_len=65536
// libFuzzer target for the price tables (cost/price_table.h): spanvault's
// schema as JSON (what tools/gen_prices.py makes of genai-prices) and as
// TOML, and LiteLLM's model_prices_and_context_window.json. The same bytes go
// to the three loaders. Properties checked on every input:
//   - a loader either returns a table or an error with a message;
//   - every model of a table answers to its own name when its match rule
//     accepts that name (always for LiteLLM entries): Find(provider, id);
//   - a name of 64 KiB made of a model's id can be looked up (once per input);
//   - costs computed from a loaded price, alone and ahead of the built-in
//     table, are either an error with a message or non-negative parts whose
//     sum is the total; the cost JSON parses back with that total.
#include <nlohmann/json.hpp>
#include <string>

#include "cost/decimal.h"
#include "cost/price_book.h"
#include "cost/price_table.h"
#include "fuzz_util.h"

using namespace spanvault;
using namespace spanvault::cost;

namespace {

constexpr size_t kMaxModelsChecked = 32;
constexpr size_t kLongName = 64 << 10;

void CheckCost(const PriceBook& book, const ModelPrice& m) {
  static const span::Usage kUsages[] = {
      {},
      {1000, 500, 100, 50, 20, {}},
      {300'000, 10, 200'000, 100'000, 10, {}},
      {UINT64_MAX / 3, UINT64_MAX / 2, 7, 0, UINT64_MAX / 4, {}},
      {10, 10, 20, 0, 0, {}},  // cache reads beyond the input: an error
  };
  for (int64_t start_ns : {int64_t{0}, int64_t{1'700'000'000'000'000'000}, int64_t{1'800'000'018'000'000'000}}) {
    for (const span::Usage& usage : kUsages) {
      auto cost = book.Compute(usage, m.provider, m.id, start_ns);
      if (!cost) {
        FUZZ_CHECK(!cost.error().message.empty());
        continue;
      }
      if (!cost->has_value()) continue;
      const Cost& c = **cost;
      for (int64_t part : {c.input, c.output, c.cache_read, c.cache_write, c.reasoning, c.request}) {
        FUZZ_CHECK(part >= 0);
      }
      FUZZ_CHECK(c.input + c.output + c.cache_read + c.cache_write + c.reasoning + c.request == c.total);
      FUZZ_CHECK(!c.price_id.empty());
      std::string out;
      AppendCostJson(c, out);
      nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
      FUZZ_CHECK(j.is_object() && j.contains("total"));
      const nlohmann::json& total = j["total"];
      FUZZ_CHECK(total.is_number());
      FUZZ_CHECK(total.is_number_integer() ? total.dump() == FormatDecimal(c.total, 12)
                                           : FormatDecimal(c.total, 12).find('.') != std::string::npos);
    }
  }
}

void CheckTable(const Result<PriceTable>& t, bool& long_name_done) {
  if (!t) {
    FUZZ_CHECK(!t.error().message.empty());
    return;
  }
  auto table = std::make_shared<const PriceTable>(*t);
  PriceBook alone({table});
  PriceBook with_builtin({table, PriceTable::BuiltIn()});
  // A span's model name can be as long as a span (1 MiB): lookups of long
  // names must work too, in the loaded table and in the built-in one.
  if (!long_name_done && !table->models().empty()) {
    long_name_done = true;
    const ModelPrice& m = table->models().front();
    std::string name = m.id.empty() ? "x" : m.id;
    while (name.size() < kLongName) name += name;
    with_builtin.FindModel(m.provider, name);
    with_builtin.FindModel("", name);
  }
  size_t checked = 0;
  for (const ModelPrice& m : table->models()) {
    if (++checked > kMaxModelsChecked) break;
    FUZZ_CHECK(CanonicalProvider(m.provider) == m.provider);
    if (m.match.Matches(AsciiLower(m.id), m.id)) {
      bool known = false;
      FUZZ_CHECK(table->Find(m.provider, m.id, &known) != nullptr);
      FUZZ_CHECK(table->FindAnyProvider(m.id) != nullptr);
    }
    CheckCost(alone, m);
    CheckCost(with_builtin, m);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  bool long_name_done = false;
  CheckTable(PriceTable::FromJson(text), long_name_done);
  CheckTable(PriceTable::FromToml(text), long_name_done);
  Result<PriceTable> litellm = PriceTable::FromLiteLlm(text);
  CheckTable(litellm, long_name_done);
  if (litellm) {
    // Every LiteLLM entry answers to its own name.
    for (const ModelPrice& m : litellm->models()) FUZZ_CHECK(m.match.Matches(AsciiLower(m.id), m.id));
  }
  return 0;
}
