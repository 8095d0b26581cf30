// The pricing stage: costs written into the batch's spans where the decoder
// said they go, the other spans moved intact; priced and unpriced spans
// counted by model, from several I/O threads at once (each thread caches its
// name lookups and counters).
#include "cost/price_stage.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "span/decoder.h"

namespace spanvault::cost {
namespace {

// One generation span, as JSON.
std::string Generation(std::string_view model, std::string_view provider, bool usage) {
  nlohmann::json j = {{"name", "call"}, {"type", "generation"}, {"start_time", 1'764'000'000}};
  if (!model.empty()) j["model"] = model;
  if (!provider.empty()) j["provider"] = provider;
  if (usage) j["usage"] = {{"input_tokens", 1000}, {"output_tokens", 100}};
  return j.dump();
}

span::Batch Decode(const std::vector<std::string>& payloads) {
  span::Decoder d;
  span::Batch b;
  for (const auto& p : payloads) d.Decode(p, {}, 1'765'000'000'000'000'000, b);
  return b;
}

TEST(PriceStageTest, WritesCostsInPlaceAndMovesTheOtherSpans) {
  auto stage = PriceStage::Create({});
  ASSERT_TRUE(stage.has_value()) << stage.error().message;
  span::Batch b = Decode({R"({"name":"t","type":"tool","input":"x"})", Generation("gpt-4o", "openai", true),
                          Generation("house-llama-3", "", true), R"({"name":"c","model":"gpt-4o","cost":2})",
                          Generation("gpt-4o-mini", "openai", true)});
  ASSERT_EQ(b.spans.size(), 5u);
  std::vector<std::string> before;
  for (size_t i = 0; i < b.spans.size(); ++i) before.emplace_back(b.SpanAt(i));
  (*stage)->Apply(b);
  EXPECT_TRUE(b.to_price.empty());
  ASSERT_EQ(b.spans.size(), 5u);
  std::vector<nlohmann::json> spans;
  for (size_t i = 0; i < b.spans.size(); ++i) spans.push_back(nlohmann::json::parse(b.SpanAt(i)));
  // Unpriced spans and the client's cost are byte for byte as decoded.
  EXPECT_EQ(b.SpanAt(0), before[0]);
  EXPECT_EQ(b.SpanAt(2), before[2]);
  EXPECT_EQ(b.SpanAt(3), before[3]);
  EXPECT_EQ(spans[3]["cost"]["source"], "client");
  // Priced: the decoded span with its cost, in the place of the canonical order.
  for (size_t i : {1u, 4u}) {
    EXPECT_EQ(spans[i]["cost"]["currency"], "USD") << b.SpanAt(i);
    EXPECT_GT(spans[i]["cost"]["total"].get<double>(), 0.0) << b.SpanAt(i);
    nlohmann::json without = spans[i];
    without.erase("cost");
    EXPECT_EQ(without, nlohmann::json::parse(before[i]));
    const std::string s(b.SpanAt(i));
    EXPECT_LT(s.find("\"usage\""), s.find("\"cost\""));
    EXPECT_LT(s.find("\"cost\""), s.find("\"received_at\""));
  }
  // gpt-4o: 1000 input tokens at $2.50/M and 100 output at $10/M.
  EXPECT_EQ(spans[1]["cost"]["total"], 0.0035);
  // The batch holds nothing but its spans, back to back.
  EXPECT_EQ(b.spans[0].offset, 0u);
  for (size_t i = 1; i < b.spans.size(); ++i)
    EXPECT_EQ(b.spans[i].offset, b.spans[i - 1].offset + b.spans[i - 1].length);
  EXPECT_EQ(b.data.size(), b.spans[4].offset + b.spans[4].length);
  EXPECT_EQ((*stage)->priced_spans(), 2u);
  EXPECT_EQ((*stage)->unpriced_spans(), 1u);
}

TEST(PriceStageTest, CountsPricedAndUnpricedSpansFromManyThreads) {
  auto pricing = PriceStage::Create({});
  ASSERT_TRUE(pricing.has_value()) << pricing.error().message;
  PriceStage& p = **pricing;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&p] {
      // Each round: priced; no price; no usage; no model; a tool without a
      // model (not a model call: not counted).
      const std::vector<std::string> round = {
          Generation("gpt-4o", "openai", true), Generation("house-llama-3", "", true),
          Generation("gpt-4o", "openai", false), Generation("", "", true), R"({"name":"t","type":"tool"})"};
      for (int i = 0; i < kRounds; ++i) {
        span::Batch b = Decode(round);
        p.Apply(b);
        ASSERT_EQ(b.spans.size(), 5u);
        for (size_t k = 0; k < b.spans.size(); ++k) {
          EXPECT_EQ(b.SpanAt(k).find("\"cost\"") != std::string_view::npos, k == 0) << b.SpanAt(k);
        }
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
TEST(PriceStageTest, UnpricedNamesAreBounded) {
  auto pricing = PriceStage::Create({});
  ASSERT_TRUE(pricing.has_value()) << pricing.error().message;
  PriceStage& p = **pricing;
  constexpr int kNames = 10'050;  // the limit is 10,000 names
  for (int i = 0; i < kNames; ++i) {
    std::string model = "random-model-" + std::to_string(i);
    span::Batch b = Decode({Generation(model, "", true)});
    p.Apply(b);
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
}  // namespace spanvault::cost
