#include "cost/price_book.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/test_util.h"

namespace spanvault::cost {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t k20260115Noon = 1'768'478'400 * kSecond;

span::Usage MakeUsage(uint64_t input, uint64_t output, uint64_t cache_read = 0, uint64_t cache_write = 0,
                      uint64_t reasoning = 0) {
  span::Usage u;
  u.input_tokens = input;
  u.output_tokens = output;
  u.cache_read_tokens = cache_read;
  u.cache_write_tokens = cache_write;
  u.reasoning_tokens = reasoning;
  return u;
}

std::shared_ptr<const PriceBook> BookOf(const char* json, bool with_builtin = false) {
  auto t = PriceTable::FromJson(json);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message);
  std::vector<std::shared_ptr<const PriceTable>> tables{std::make_shared<const PriceTable>(std::move(*t))};
  if (with_builtin) tables.push_back(PriceTable::BuiltIn());
  return std::make_shared<const PriceBook>(std::move(tables));
}

Cost MustCost(const PriceBook& book, const span::Usage& u, std::string_view provider, std::string_view model,
              int64_t start_ns = k20260115Noon) {
  auto c = book.Compute(u, provider, model, start_ns);
  EXPECT_TRUE(c.has_value()) << c.error().message;
  EXPECT_TRUE(c->has_value()) << provider << "/" << model << " unpriced";
  return c->value_or(Cost{});
}

std::string Json(const Cost& c) {
  std::string out;
  AppendCostJson(c, out);
  return out;
}

constexpr const char* kAcme = R"({"models": [
  {"provider": "acme", "id": "full",
   "prices": {"input": 2.5, "output": 10, "cache_read": 1.25, "cache_write": 3.75, "reasoning": 12, "per_request": 5}},
  {"provider": "acme", "id": "bare", "prices": {"input": 2, "output": 8}},
  {"provider": "acme", "id": "exact", "prices": {"input": 0.43, "output": 0.1}},
  {"provider": "acme", "id": "tiny", "prices": {"input": 0.0000001}},
  {"provider": "acme", "id": "tiered", "prices": {"input": 1, "output": 2, "tiers": [
      {"above_input_tokens": 200000, "input": 2},
      {"above_input_tokens": 1000000, "input": 3, "output": 4}]}},
  {"provider": "acme", "id": "dated", "prices": {"input": 1},
   "versions": [{"valid_from": "2025-06-01", "prices": {"input": 2}},
                {"valid_from": "2026-06-01", "prices": {"input": 3}}]},
  {"provider": "acme", "id": "offpeak", "prices": {"input": 1},
   "windows": [{"start": "00:30", "end": "16:30", "prices": {"input": 2}}]},
  {"provider": "acme", "id": "night", "prices": {"input": 1},
   "windows": [{"start": "22:00:00", "end": "02:00:00", "prices": {"input": 5}}]}
]})";

TEST(CostTest, FormulaWithEveryTokenKind) {
  auto book = BookOf(kAcme);
  // 1000 input incl. 200 cache reads + 100 cache writes; 500 output incl. 100 reasoning.
  Cost c = MustCost(*book, MakeUsage(1000, 500, 200, 100, 100), "acme", "full");
  EXPECT_EQ(c.input, 1'750'000'000);      // 700 × 2.5 / 1M USD
  EXPECT_EQ(c.cache_read, 250'000'000);   // 200 × 1.25
  EXPECT_EQ(c.cache_write, 375'000'000);  // 100 × 3.75
  EXPECT_EQ(c.output, 4'000'000'000);     // 400 × 10
  EXPECT_EQ(c.reasoning, 1'200'000'000);  // 100 × 12
  EXPECT_EQ(c.request, 5'000'000'000);    // 5 USD per 1,000 requests
  EXPECT_EQ(c.total, 12'575'000'000);
  EXPECT_EQ(Json(c), R"({"total":0.012575,"input":0.00175,"output":0.004,"cache_read":0.00025,"cache_write":0.000375,)"
                     R"("reasoning":0.0012,"request":0.005,"currency":"USD","price_id":"acme/full","source":"table"})");
}

TEST(CostTest, FallbacksForMissingPrices) {
  auto book = BookOf(kAcme);
  // No cache or reasoning prices: cache tokens at the input price, reasoning
  // at the output price.
  Cost c = MustCost(*book, MakeUsage(1000, 500, 200, 100, 100), "acme", "bare");
  EXPECT_EQ(c.input, 1'400'000'000);      // 700 × 2
  EXPECT_EQ(c.cache_read, 400'000'000);   // 200 × 2
  EXPECT_EQ(c.cache_write, 200'000'000);  // 100 × 2
  EXPECT_EQ(c.output, 3'200'000'000);     // 400 × 8
  EXPECT_EQ(c.reasoning, 800'000'000);    // 100 × 8
  EXPECT_EQ(c.request, 0);
  EXPECT_EQ(c.total, 6'000'000'000);
  // Missing counts are zero.
  span::Usage only_input;
  only_input.input_tokens = 1'000'000;
  EXPECT_EQ(MustCost(*book, only_input, "acme", "bare").total, 2'000'000'000'000);
}

TEST(CostTest, ExactDecimalsInJson) {
  auto book = BookOf(kAcme);
  struct Case {
    uint64_t input, output;
    const char* model;
    const char* total;
  } cases[] = {
      {1'000'000, 0, "exact", "0.43"},  // never 0.43000000000000005
      {1'000'000, 1'000'000, "exact", "0.53"},
      {3, 7, "exact", "0.00000199"},
      {1, 0, "exact", "0.00000043"},
      {5, 0, "tiny", "0.000000000001"},  // 0.5 pico rounds up
      {4, 0, "tiny", "0"},               // 0.4 pico rounds down
      {123'456'789, 0, "exact", "53.08641927"},
  };
  for (const auto& c : cases) {
    Cost cost = MustCost(*book, MakeUsage(c.input, c.output), "acme", c.model);
    std::string j = Json(cost);
    EXPECT_NE(j.find(std::string("\"total\":") + c.total + ","), std::string::npos) << j;
    EXPECT_EQ(j.find("e-"), std::string::npos) << "no exponent: " << j;
    EXPECT_EQ(j.find("e+"), std::string::npos) << "no exponent: " << j;
  }
}

TEST(CostTest, TierByInputTokensStrictlyAbove) {
  auto book = BookOf(kAcme);
  struct Case {
    uint64_t input;
    int64_t input_pico;   // for input tokens
    int64_t output_pico;  // for 1M output tokens
  } cases[] = {
      {200'000, 200'000'000'000, 2'000'000'000'000},      // exactly at the start: base
      {200'001, 400'002'000'000, 2'000'000'000'000},      // above: tier 1 (output unchanged)
      {1'000'000, 2'000'000'000'000, 2'000'000'000'000},  // at tier 2's start: tier 1
      {1'000'001, 3'000'003'000'000, 4'000'000'000'000},  // tier 2
  };
  for (const auto& c : cases) {
    Cost cost = MustCost(*book, MakeUsage(c.input, 1'000'000), "acme", "tiered");
    EXPECT_EQ(cost.input, c.input_pico) << c.input;
    EXPECT_EQ(cost.output, c.output_pico) << c.input;
  }
  // The tier counts all input tokens, cached ones included.
  Cost cached = MustCost(*book, MakeUsage(300'000, 0, 250'000), "acme", "tiered");
  EXPECT_EQ(cached.input, 100'000'000'000);  // 50k uncached × 2
}

TEST(CostTest, VersionInForceAtStartTime) {
  auto book = BookOf(kAcme);
  const int64_t june2025 = 1'748'736'000 * kSecond;
  struct Case {
    int64_t start_ns;
    int64_t input_pico;
    const char* price_id;
  } cases[] = {
      {june2025 - 1, 1'000'000'000'000, "acme/dated"},
      {june2025, 2'000'000'000'000, "acme/dated@2025-06-01"},
      {k20260115Noon, 2'000'000'000'000, "acme/dated@2025-06-01"},
      {june2025 + 365 * 86'400 * kSecond, 3'000'000'000'000, "acme/dated@2026-06-01"},
      {0, 1'000'000'000'000, "acme/dated"},
  };
  for (const auto& c : cases) {
    Cost cost = MustCost(*book, MakeUsage(1'000'000, 0), "acme", "dated", c.start_ns);
    EXPECT_EQ(cost.input, c.input_pico) << c.start_ns;
    EXPECT_EQ(cost.price_id, c.price_id);
  }
}

TEST(CostTest, TimeOfDayWindows) {
  const int64_t day = 1'768'435'200 * kSecond;  // 2026-01-15T00:00:00Z
  auto at = [&](int h, int m, int s) { return day + ((h * 60 + m) * 60 + s) * kSecond; };
  auto book = BookOf(kAcme);
  struct Case {
    const char* model;
    int64_t start_ns;
    int64_t input_pico;
  } cases[] = {
      {"offpeak", at(0, 29, 59), 1'000'000'000'000},  {"offpeak", at(0, 30, 0), 2'000'000'000'000},
      {"offpeak", at(16, 29, 59), 2'000'000'000'000}, {"offpeak", at(16, 30, 0), 1'000'000'000'000},
      {"night", at(21, 59, 59), 1'000'000'000'000},   {"night", at(23, 0, 0), 5'000'000'000'000},
      {"night", at(1, 59, 59), 5'000'000'000'000},    {"night", at(2, 0, 0), 1'000'000'000'000},
      {"night", -kSecond, 5'000'000'000'000},  // 1969-12-31T23:59:59Z
  };
  for (const auto& c : cases) {
    Cost cost = MustCost(*book, MakeUsage(1'000'000, 0), "acme", c.model, c.start_ns);
    EXPECT_EQ(cost.input, c.input_pico) << c.model << " @ " << c.start_ns;
  }
  Cost w = MustCost(*book, MakeUsage(1, 0), "acme", "offpeak", at(1, 0, 0));
  EXPECT_EQ(w.window, "00:30-16:30");
}

TEST(CostTest, UserTableBeforeBuiltIn) {
  auto book = BookOf(R"({"models": [{"provider": "openai", "id": "gpt-4o", "prices": {"input": 1, "output": 1}}]})",
                     /*with_builtin=*/true);
  Cost mine = MustCost(*book, MakeUsage(1'000'000, 0), "openai", "gpt-4o");
  EXPECT_EQ(mine.total, 1'000'000'000'000);
  EXPECT_EQ(mine.price_id, "openai/gpt-4o");
  // A model the user table lacks comes from the built-in table.
  Cost builtin = MustCost(*book, MakeUsage(1'000'000, 0), "openai", "gpt-4o-mini");
  EXPECT_EQ(builtin.total, 150'000'000'000);
  auto match = book->Lookup("openai", "gpt-4o-mini", k20260115Noon, 0);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->table, PriceTable::BuiltIn().get());
  // Unpriced: nullopt, not an error.
  auto none = book->Compute(MakeUsage(1, 1), "openai", "no-such-model", k20260115Noon);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
}

TEST(CostTest, InconsistentUsageIsAnError) {
  auto book = BookOf(kAcme);
  EXPECT_FALSE(book->Compute(MakeUsage(10, 0, 8, 3), "acme", "full", 0).has_value());
  EXPECT_FALSE(book->Compute(MakeUsage(10, 5, 0, 0, 6), "acme", "full", 0).has_value());
  auto huge = BookOf(R"({"models": [{"provider": "p", "id": "m", "prices": {"input": 1000000000}}]})");
  EXPECT_FALSE(huge->Compute(MakeUsage(UINT64_MAX, 0), "p", "m", 0).has_value());
}

TEST(CostTest, JsonEscapesPriceId) {
  Cost c;
  c.price_id = "a\"b\\c\n";
  EXPECT_EQ(Json(c), R"({"total":0,"input":0,"output":0,"cache_read":0,"cache_write":0,"reasoning":0,)"
                     R"("currency":"USD","price_id":"a\"b\\c\n","source":"table"})");
}

TEST(CostTest, ConcurrentReadersShareOneBook) {
  auto book = BookOf(kAcme, /*with_builtin=*/true);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto a = book->Compute(MakeUsage(1000, 500, 200, 100, 100), "acme", "full", k20260115Noon);
        auto b = book->Compute(MakeUsage(1'000'000, 0), "", "gpt-4o-2024-08-06", k20260115Noon);
        if (!a || !*a || (*a)->total != 12'575'000'000) ++wrong;
        if (!b || !*b || (*b)->total != 2'500'000'000'000) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

void Write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

TEST(LoadPriceBookTest, LoadsEveryFormatInOrder) {
  testing::TempDir dir;
  Write(dir.path() / "a.toml", "[[models]]\nprovider = \"openai\"\nid = \"gpt-4o\"\nprices = { input = 0.43 }\n");
  Write(dir.path() / "b.json", R"({"models":[{"provider":"openai","id":"gpt-4o","prices":{"input":9}},
                                              {"provider":"openai","id":"o3","prices":{"input":7}}]})");
  Write(dir.path() / "c.json", R"({"o3": {"litellm_provider":"openai","input_cost_per_token":1e-06},
                                   "o4": {"litellm_provider":"openai","input_cost_per_token":2e-06}})");
  auto book = LoadPriceBook({(dir.path() / "a.toml").string(), (dir.path() / "b.json").string(),
                             "litellm:" + (dir.path() / "c.json").string()});
  ASSERT_TRUE(book.has_value()) << book.error().message;
  ASSERT_EQ((*book)->tables().size(), 4u);  // + built-in
  EXPECT_EQ((*book)->tables().back(), PriceTable::BuiltIn());
  auto u = MakeUsage(1'000'000, 0);
  EXPECT_EQ(MustCost(**book, u, "openai", "gpt-4o").total, 430'000'000'000);
  EXPECT_EQ(MustCost(**book, u, "openai", "o3").total, 7'000'000'000'000);
  EXPECT_EQ(MustCost(**book, u, "openai", "o4").total, 2'000'000'000'000);

  // LiteLLM detected without the prefix; no built-in when asked.
  auto detected = LoadPriceBook({(dir.path() / "c.json").string()}, /*with_builtin=*/false);
  ASSERT_TRUE(detected.has_value()) << detected.error().message;
  ASSERT_EQ((*detected)->tables().size(), 1u);
  EXPECT_EQ(MustCost(**detected, u, "openai", "o3").total, 1'000'000'000'000);
}

TEST(LoadPriceBookTest, ReportsEveryBrokenFile) {
  testing::TempDir dir;
  Write(dir.path() / "bad.json", R"({"models":[{"provider":"p","id":"m","prices":{"input":"x"}}]})");
  Write(dir.path() / "bad.toml", "[[models]\n");
  Write(dir.path() / "good.json", R"({"models":[]})");
  std::string missing = (dir.path() / "missing.json").string();
  auto book = LoadPriceBook({(dir.path() / "bad.json").string(), (dir.path() / "good.json").string(),
                             (dir.path() / "bad.toml").string(), missing});
  ASSERT_FALSE(book.has_value());
  const std::string& msg = book.error().message;
  EXPECT_NE(msg.find("bad.json: models[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad.toml: invalid TOML at line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing.json: cannot open"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("good.json"), std::string::npos) << msg;
}

}  // namespace
}  // namespace spanvault::cost
