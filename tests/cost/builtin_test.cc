// The built-in table against its source, genai-prices 0.1.8 (a copy sits in
// tests/cost/data so the tests do not depend on anything outside the repo).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "cost/exact_json.h"
#include "cost/price_book.h"

namespace spanvault::cost {
namespace {

using nlohmann::json;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t k20260115 = 1'768'435'200 * kSecond;  // 2026-01-15T00:00:00Z

json Source() {
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "data" / "genai-prices-0.1.8.json",
                   std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto j = ParseExactJson(ss.str());
  EXPECT_TRUE(j.has_value());
  return j.value_or(json());
}

bool HasTokenPrice(const json& prices) {
  if (prices.empty()) return true;  // free
  for (const char* k : {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok"}) {
    if (prices.contains(k)) return true;
  }
  return false;
}

TEST(BuiltInTest, CoversEveryTokenPricedModelOfTheSource) {
  auto table = PriceTable::BuiltIn();
  json source = Source();
  ASSERT_EQ(source.size(), 43u);
  std::map<std::string, size_t> want, got;
  size_t total = 0, checked = 0;
  for (const json& provider : source) {
    for (const json& model : provider["models"]) {
      json entries = model["prices"].is_array() ? model["prices"] : json::array({{{"prices", model["prices"]}}});
      bool token = false;
      for (const json& e : entries) token |= HasTokenPrice(e["prices"]);
      if (!token) continue;
      ++total;
      ++want[CanonicalProvider(provider["id"].get<std::string>())];
      // The base price of each model survives the conversion exactly.
      const json& base = entries[0]["prices"];
      for (const auto& [key, slot] : {std::pair{"input_mtok", &PriceSet::input},
                                      {"output_mtok", &PriceSet::output},
                                      {"cache_read_mtok", &PriceSet::cache_read}}) {
        if (!base.contains(key) || base[key].is_object()) continue;
        const std::string pid = CanonicalProvider(provider["id"].get<std::string>());
        const std::string& id = model["id"].get_ref<const std::string&>();
        auto expect = ParseDecimal(base[key].is_string() ? base[key].get<std::string>() : base[key].dump(), 12);
        ASSERT_TRUE(expect.has_value());
        bool found = false;
        for (const ModelPrice& m : table->models()) {
          if (m.provider == pid && m.id == id && m.prices.base.*slot == *expect) found = true;
        }
        EXPECT_TRUE(found) << pid << "/" << id << " " << key;
        ++checked;
      }
    }
  }
  for (const ModelPrice& m : table->models()) ++got[m.provider];
  EXPECT_EQ(total, 1680u);  // 1,694 models, 14 priced only per hour/page/message
  EXPECT_EQ(table->model_count(), total);
  EXPECT_EQ(got, want);
  EXPECT_GT(checked, 3000u);
}

struct RealCase {
  const char* provider;
  const char* model;
  uint64_t input, output, cache_read, cache_write;
  int64_t start_ns;
  const char* price_id;
  int64_t total_pico;
};

TEST(BuiltInTest, RealPricesMatchTheSource) {
  PriceBook book({PriceTable::BuiltIn()});
  const int64_t noon = k20260115 + 12 * 3600 * kSecond;
  const int64_t evening = k20260115 + 20 * 3600 * kSecond;
  RealCase cases[] = {
      // openai gpt-4o: input 2.5, cache_read 1.25, output 10.
      {"openai", "gpt-4o", 1'000'000, 1'000'000, 0, 0, noon, "openai/gpt-4o", 12'500'000'000'000},
      // 1000 × 2.5 + 1000 × 1.25 + 100 × 10 = 0.00475 USD
      {"openai", "gpt-4o-2024-08-06", 2'000, 100, 1'000, 0, noon, "openai/gpt-4o", 4'750'000'000},
      {"", "gpt-4o", 1'000'000, 0, 0, 0, noon, "openai/gpt-4o", 2'500'000'000'000},  // not the free Copilot entry
      {"openai", "gpt-4o-mini", 1'000'000, 1'000'000, 0, 0, noon, "openai/gpt-4o-mini", 750'000'000'000},
      // anthropic claude-sonnet-4: input 3, cache_write 3.75, cache_read 0.3, output 15.
      // 2000 × 3 + 6000 × 0.3 + 2000 × 3.75 + 1000 × 15 = 0.0303 USD
      {"anthropic", "claude-sonnet-4-20250514", 10'000, 1'000, 6'000, 2'000, noon, "anthropic/claude-sonnet-4-0",
       30'300'000'000},
      {"", "claude-sonnet-4-20250514", 10'000, 1'000, 6'000, 2'000, noon, "anthropic/claude-sonnet-4-0",
       30'300'000'000},
      {"gcp.vertex_ai", "claude-sonnet-4@20250514", 1'000'000, 0, 0, 0, noon, "gcp.vertex_ai/claude-4-sonnet",
       3'000'000'000'000},
      // Google has no claude-2 entry: its fallback provider (anthropic) prices it at 8 / 24.
      {"google", "claude-2.1", 1'000'000, 0, 0, 0, noon, "anthropic/claude-2", 8'000'000'000'000},
      // gemini-2.5-pro: 1.25 / 10, above 200k input tokens 2.5 / 15.
      {"google", "gemini-2.5-pro", 200'000, 1'000, 0, 0, noon, "gcp.vertex_ai/gemini-2.5-pro", 260'000'000'000},
      {"gemini", "gemini-2.5-pro", 250'000, 1'000, 0, 0, noon, "gcp.vertex_ai/gemini-2.5-pro", 640'000'000'000},
      {"gcp.vertex_ai", "gemini-2.5-pro", 200'001, 0, 0, 0, noon, "gcp.vertex_ai/gemini-2.5-pro", 500'002'500'000},
      // deepseek-chat: 0.27 / 1.1 from 00:30 to 16:30 UTC, 0.135 / 0.55 otherwise.
      {"deepseek", "deepseek-chat", 1'000'000, 1'000'000, 0, 0, noon, "deepseek/deepseek-chat", 1'370'000'000'000},
      {"deepseek", "deepseek-chat", 1'000'000, 1'000'000, 0, 0, evening, "deepseek/deepseek-chat", 685'000'000'000},
      {"", "deepseek-chat", 1'000'000, 0, 0, 0, evening, "deepseek/deepseek-chat", 135'000'000'000},
  };
  for (const auto& c : cases) {
    span::Usage u;
    u.input_tokens = c.input;
    u.output_tokens = c.output;
    u.cache_read_tokens = c.cache_read;
    u.cache_write_tokens = c.cache_write;
    auto cost = book.Compute(u, c.provider, c.model, c.start_ns);
    ASSERT_TRUE(cost.has_value()) << cost.error().message;
    ASSERT_TRUE(cost->has_value()) << c.provider << "/" << c.model;
    EXPECT_EQ((*cost)->price_id, c.price_id) << c.provider << "/" << c.model;
    EXPECT_EQ((*cost)->total, c.total_pico) << c.provider << "/" << c.model;
  }
}

TEST(BuiltInTest, ProviderAliasesReachTheSameModels) {
  PriceBook book({PriceTable::BuiltIn()});
  for (const char* p : {"azure", "azure.ai.openai"}) {
    EXPECT_TRUE(book.Lookup(p, "gpt-4o", k20260115, 0).has_value()) << p;
  }
  for (const char* p : {"x_ai", "x-ai", "xai"}) {
    auto m = book.Lookup(p, "grok-3", k20260115, 0);
    ASSERT_TRUE(m.has_value()) << p;
    EXPECT_EQ(m->model->provider, "x_ai");
  }
  for (const char* p : {"aws.bedrock", "aws", "bedrock"}) {
    auto m = book.Lookup(p, "anthropic.claude-3-5-sonnet-20240620-v1:0", k20260115, 0);
    ASSERT_TRUE(m.has_value()) << p;
    EXPECT_EQ(m->model->provider, "aws.bedrock");
  }
}

}  // namespace
}  // namespace spanvault::cost
