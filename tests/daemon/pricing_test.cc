// Pricing's counters: priced and unpriced spans, by model, from several
// I/O threads at once (each thread caches its name lookups and counters).
#include "daemon/pricing.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace spanvault::daemon {
namespace {

span::SpanView Generation(std::string_view model, std::string_view provider, bool usage) {
  span::SpanView v;
  v.name = "call";
  v.type = span::SpanType::kGeneration;
  v.model = model;
  v.provider = provider;
  v.start_ns = 1'764'000'000'000'000'000;
  v.has_usage = usage;
  if (usage) {
    v.usage.input_tokens = 1000;
    v.usage.output_tokens = 100;
  }
  return v;
}

TEST(PricingTest, CountsPricedAndUnpricedSpansFromManyThreads) {
  auto pricing = Pricing::Create({});
  ASSERT_TRUE(pricing.has_value()) << pricing.error().message;
  Pricing& p = **pricing;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&p] {
      std::string cost;
      span::SpanView tool;
      tool.type = span::SpanType::kTool;  // no model, not a model call: not counted
      for (int i = 0; i < kRounds; ++i) {
        cost.clear();
        p.Enrich(Generation("gpt-4o", "openai", true), cost);
        EXPECT_FALSE(cost.empty());
        cost.clear();
        p.Enrich(Generation("house-llama-3", "", true), cost);  // no price
        p.Enrich(Generation("gpt-4o", "openai", false), cost);  // no usage
        p.Enrich(Generation("", "", true), cost);               // no model
        p.Enrich(tool, cost);
        EXPECT_TRUE(cost.empty()) << cost;
      }
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t n = kThreads * kRounds;
  EXPECT_EQ(p.priced_spans(), n);
  EXPECT_EQ(p.unpriced_spans(), 3 * n);
  std::map<std::string, uint64_t> by_model;
  for (const auto& [model, count] : p.Unpriced()) by_model[model] = count;
  EXPECT_EQ(by_model, (std::map<std::string, uint64_t>{{"", n}, {"gpt-4o", n}, {"house-llama-3", n}}));
}

// A client sending endless distinct model names cannot grow the table
// without bound: past the limit they are counted as "(other)".
TEST(PricingTest, UnpricedNamesAreBounded) {
  auto pricing = Pricing::Create({});
  ASSERT_TRUE(pricing.has_value()) << pricing.error().message;
  Pricing& p = **pricing;
  std::string cost;
  constexpr int kNames = 10'050;  // the limit is 10,000 names
  for (int i = 0; i < kNames; ++i) {
    std::string model = "random-model-" + std::to_string(i);
    p.Enrich(Generation(model, "", true), cost);
  }
  EXPECT_EQ(p.unpriced_spans(), static_cast<uint64_t>(kNames));
  auto list = p.Unpriced();
  EXPECT_LE(list.size(), 10'001u);
  uint64_t total = 0, other = 0;
  for (const auto& [model, count] : list) {
    total += count;
    if (model == "(other)") other = count;
  }
  EXPECT_EQ(total, static_cast<uint64_t>(kNames));
  EXPECT_GE(other, 50u);
}

}  // namespace
}  // namespace spanvault::daemon
