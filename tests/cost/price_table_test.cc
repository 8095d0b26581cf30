#include "cost/price_table.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace spanvault::cost {
namespace {

using nlohmann::json;

std::string ReadData(const char* name) {
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "data" / name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t Input(const ModelPrice& m) { return static_cast<int64_t>(m.prices.base.input.value_or(-1)); }

TEST(MatchRuleTest, EachKind) {
  struct Case {
    const char* rule;
    const char* name;
    bool want;
  } cases[] = {
      {R"({"equals": "gpt-4o"})", "gpt-4o", true},
      {R"({"equals": "gpt-4o"})", "GPT-4O", true},
      {R"({"equals": "gpt-4o"})", "gpt-4o-mini", false},
      {R"({"starts_with": "Claude-3"})", "claude-3-opus", true},
      {R"({"starts_with": "claude-3"})", "my-claude-3", false},
      {R"({"ends_with": "-Instruct"})", "llama-3-INSTRUCT", true},
      {R"({"ends_with": "-instruct"})", "llama-3-instruct-v2", false},
      {R"({"contains": "gemini"})", "models/Gemini-2.5-pro", true},
      {R"({"contains": "gemini"})", "gemma", false},
      {R"({"regex": "^o[134]"})", "o3-mini", true},
      {R"({"regex": "^o[134]"})", "O3-mini", false},  // regex is case-sensitive
      {R"({"regex": "^o[134]"})", "gpt-o3", false},
      {R"({"regex": "mini$"})", "o3-mini", true},  // searched, not anchored
      {R"({"regex": "^(?![^/]+/)mistral"})", "mistral-large", true},
      {R"({"regex": "^(?![^/]+/)mistral"})", "x/mistral-large", false},
      // Literal prefixes taken from anchored regexes must not change results.
      {R"({"regex": "^gpt-5\\.4-\\d{4}"})", "gpt-5.4-2026", true},
      {R"({"regex": "^gpt-5\\.4-\\d{4}"})", "gpt-5x4-2026", false},
      {R"({"regex": "^ab?c"})", "ac", true},
      {R"({"regex": "^ab+c"})", "abbc", true},
      {R"({"regex": "^ab*c"})", "ac", true},
      {R"({"regex": "^a|^b"})", "b", true},
      {R"({"regex": "^composer-2\\.5\\[fast=true\\]$"})", "composer-2.5[fast=true]", true},
      {R"({"or": [{"equals": "a"}, {"starts_with": "b"}]})", "bee", true},
      {R"({"or": [{"equals": "a"}, {"starts_with": "b"}]})", "cee", false},
      {R"j({"and": [{"starts_with": "gemini"}, {"regex": "^(?!.*-[tT][tT][sS](?:$|-))"}]})j", "gemini-2.5-pro", true},
      {R"j({"and": [{"starts_with": "gemini"}, {"regex": "^(?!.*-[tT][tT][sS](?:$|-))"}]})j", "gemini-2.5-pro-tts",
       false},
  };
  for (const auto& c : cases) {
    auto rule = MatchRule::FromJson(json::parse(c.rule));
    ASSERT_TRUE(rule.has_value()) << c.rule;
    std::string name = c.name;
    EXPECT_EQ(rule->Matches(AsciiLower(name), name), c.want) << c.rule << " vs " << c.name;
  }
}

// Found by the fuzzer (tests/fuzz/prices_fuzz.cc): std::regex recursed once
// per character of the name, and a span's model name of ~50 KB (it may be
// 1 MiB) overflowed the stack on the built-in table's patterns when looked up
// without a provider. Regex rules now skip names longer than kMaxRegexName.
TEST(MatchRuleTest, LongNamesDoNotRunTheRegex) {
  auto rule = MatchRule::FromJson(json::parse(R"({"regex": "^(?![^/]+/)a+$"})"));
  ASSERT_TRUE(rule.has_value());
  std::string name(kMaxRegexName, 'a');
  EXPECT_TRUE(rule->Matches(name, name));
  name.push_back('a');
  EXPECT_FALSE(rule->Matches(name, name));

  auto table = PriceTable::BuiltIn();
  for (std::string prefix : {"", "gemini-2.5-pro-", "mistral-", "claude-"}) {
    std::string long_name = prefix + std::string(1 << 20, 'x');
    for (const char* provider : {"", "acme", "gcp.vertex_ai", "mistral_ai"}) {
      table->Find(provider, long_name);  // no crash: the names are too long for any regex
    }
  }
  EXPECT_NE(table->Find("", "gemini-2.5-pro"), nullptr);  // the regexes still apply to real names
}

TEST(MatchRuleTest, RejectsBadRules) {
  for (const char* bad : {R"({})", R"({"equals": 1})", R"({"like": "x"})", R"({"regex": "("})", R"({"or": []})",
                          R"({"equals": "a", "contains": "b"})", R"("gpt")"}) {
    EXPECT_FALSE(MatchRule::FromJson(json::parse(bad)).has_value()) << bad;
  }
}

TEST(NamesTest, StripsDateSuffixes) {
  struct Case {
    const char* name;
    const char* want;  // nullptr: no date
  } cases[] = {
      {"gpt-4o-2024-08-06", "gpt-4o"},
      {"claude-sonnet-4-20250514", "claude-sonnet-4"},
      {"claude-sonnet-4@20250514", "claude-sonnet-4"},
      {"x-2025-05-14", "x"},
      {"gpt-4-0613", nullptr},
      {"model-12345678", nullptr},  // not a plausible date
      {"gpt-4o", nullptr},
      {"-2024-08-06", nullptr},
  };
  for (const auto& c : cases) {
    auto got = StripDateSuffix(c.name);
    if (c.want == nullptr) {
      EXPECT_FALSE(got.has_value()) << c.name;
    } else {
      ASSERT_TRUE(got.has_value()) << c.name;
      EXPECT_EQ(*got, c.want);
    }
  }
}

TEST(NamesTest, CanonicalProviders) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"gcp.vertex_ai", "gcp.vertex_ai"},
      {"google", "gcp.vertex_ai"},
      {"Gemini", "gcp.vertex_ai"},
      {"gcp.gemini", "gcp.vertex_ai"},
      {"aws.bedrock", "aws.bedrock"},
      {"aws", "aws.bedrock"},
      {"bedrock", "aws.bedrock"},
      {"azure.ai.openai", "azure.ai.openai"},
      {"azure", "azure.ai.openai"},
      {"x_ai", "x_ai"},
      {"x-ai", "x_ai"},
      {"xai", "x_ai"},
      {"mistral", "mistral_ai"},
      {"OpenAI", "openai"},
      {"acme", "acme"},
  };
  for (const auto& c : cases) EXPECT_EQ(CanonicalProvider(c.in), c.want) << c.in;
}

constexpr const char* kTable = R"({
  "providers": [
    {"id": "openai", "model_match": {"starts_with": "gpt-"}},
    {"id": "azure", "fallback": ["openai"]},
    {"id": "acme", "provider_match": {"contains": "acme"}}
  ],
  "models": [
    {"provider": "openai", "id": "gpt-4o-family", "match": {"starts_with": "gpt-4o"}, "prices": {"input": 9}},
    {"provider": "openai", "id": "gpt-4o", "prices": {"input": 2.5, "output": 10}},
    {"provider": "openai", "id": "gpt-4o-mini", "match": {"or": [{"equals": "gpt-4o-mini"}, {"equals": "4o-mini"}]},
     "prices": {"input": 0.15}},
    {"provider": "x-ai", "id": "grok-4", "prices": {"input": 3}},
    {"provider": "google", "id": "gemini-2.5-pro", "prices": {"input": 1.25}},
    {"provider": "acme", "id": "shared", "prices": {"input": 7}},
    {"provider": "other", "id": "shared", "prices": {"input": 8}},
    {"provider": "acme", "id": "Big-Model", "prices": {"input": 4}}
  ]
})";

TEST(PriceTableTest, ExactBeforePatternAndDatedNames) {
  auto t = PriceTable::FromJson(kTable);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  struct Case {
    const char* provider;
    const char* model;
    int64_t input;  // -2: no match
  } cases[] = {
      {"openai", "gpt-4o", 2'500'000'000'000},             // exact beats the earlier pattern
      {"openai", "GPT-4o", 2'500'000'000'000},             // case-insensitive
      {"openai", "gpt-4o-2024-08-06", 2'500'000'000'000},  // dated -> base exact
      {"openai", "gpt-4o-mini-2024-07-18", 150'000'000'000},
      {"openai", "4o-mini", 150'000'000'000},         // or-of-equals indexed
      {"openai", "gpt-4o-audio", 9'000'000'000'000},  // pattern
      {"openai", "gpt-5", -2},
      {"x-ai", "grok-4", 3'000'000'000'000},  // provider aliases
      {"xai", "grok-4", 3'000'000'000'000},
      {"x_ai", "grok-4-20250709", 3'000'000'000'000},
      {"gemini", "gemini-2.5-pro", 1'250'000'000'000},
      {"gcp.vertex_ai", "gemini-2.5-pro", 1'250'000'000'000},
      {"azure", "gpt-4o", 2'500'000'000'000},  // fallback provider
      {"azure.ai.openai", "gpt-4o-2024-11-20", 2'500'000'000'000},
      {"my-acme-gateway", "shared", 7'000'000'000'000},  // provider_match
      {"acme", "big-model", 4'000'000'000'000},
      {"other", "shared", 8'000'000'000'000},
      {"openai", "shared", -2},  // known provider: no crossing over
  };
  for (const auto& c : cases) {
    const ModelPrice* m = t->Find(c.provider, c.model);
    if (c.input == -2) {
      EXPECT_EQ(m, nullptr) << c.provider << "/" << c.model;
    } else {
      ASSERT_NE(m, nullptr) << c.provider << "/" << c.model;
      EXPECT_EQ(Input(*m), c.input) << c.provider << "/" << c.model;
    }
  }
}

TEST(PriceTableTest, ProviderlessLookupOrder) {
  auto t = PriceTable::FromJson(kTable);
  ASSERT_TRUE(t.has_value());
  bool known = true;
  EXPECT_EQ(t->Find("nobody", "gpt-4o", &known), nullptr);
  EXPECT_FALSE(known);
  // model_match provider first, then exact over all providers in table order.
  const ModelPrice* m = t->FindAnyProvider("gpt-4o-2024-08-06");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->id, "gpt-4o");
  m = t->FindAnyProvider("shared");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->provider, "acme");  // first in table order
  m = t->FindAnyProvider("Grok-4");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->provider, "x_ai");
  EXPECT_EQ(t->FindAnyProvider("unknown-model"), nullptr);
}

TEST(PriceTableTest, TomlAndJsonReadTheSameSchema) {
  const char* toml = R"(
source = "team prices"

[[models]]
provider = "acme"
id = "acme-large"
match = { starts_with = "acme-large" }
prices = { input = 0.43, output = 1.1, cache_read = 0.043, per_request = 2, tiers = [ { above_input_tokens = 200_000, input = 0.86 } ] }

[[models.versions]]
valid_from = 2026-01-01
prices = { input = 0.5, output = 1.2 }

[[models.windows]]
start = "22:00"
end = "02:00"
prices = { input = 0.2, output = 0.5 }
)";
  auto t = PriceTable::FromToml(toml);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->source(), "team prices");
  const ModelPrice* m = t->Find("acme", "ACME-large-v2");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(Input(*m), 430'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(*m->prices.base.per_request), 2'000'000'000'000);
  ASSERT_EQ(m->prices.tiers.size(), 1u);
  EXPECT_EQ(m->prices.tiers[0].above_input_tokens, 200'000u);
  ASSERT_EQ(m->versions.size(), 1u);
  EXPECT_EQ(m->versions[0].valid_from, "2026-01-01");
  ASSERT_EQ(m->windows.size(), 1u);
  EXPECT_EQ(m->windows[0].start_s, 22u * 3600);
  EXPECT_EQ(m->windows[0].end_s, 2u * 3600);

  auto j = PriceTable::FromJson(R"({"models":[{"provider":"acme","id":"acme-large","prices":{"input":"0.43"}}]})");
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(Input(*j->Find("acme", "acme-large")), 430'000'000'000);
}

// Found by the fuzzer (tests/fuzz/prices_fuzz.cc): a valid_from past
// 2262-04-11 overflowed int64 nanoseconds (undefined behaviour; the version
// then sorted and applied by a wrapped time). Such dates are refused.
TEST(PriceTableTest, VersionDatesOutsideTheNanosecondRangeAreRefused) {
  auto table = [](const std::string& date) {
    return PriceTable::FromJson(R"({"models":[{"provider":"p","id":"a","prices":{"input":1},"versions":[)"
                                R"({"valid_from":")" +
                                date + R"(","prices":{"input":2}}]}]})");
  };
  for (const char* bad : {"3163-03-13", "9999-12-31", "2262-04-12", "1677-09-21", "0000-01-01"}) {
    auto t = table(bad);
    ASSERT_FALSE(t.has_value()) << bad;
    EXPECT_NE(t.error().message.find("valid_from"), std::string::npos) << t.error().message;
  }
  for (const char* good : {"2262-04-11", "1970-01-01", "1677-09-22"}) {
    auto t = table(good);
    ASSERT_TRUE(t.has_value()) << good << ": " << t.error().message;
    ASSERT_EQ(t->models()[0].versions.size(), 1u);
    EXPECT_EQ(t->models()[0].versions[0].valid_from, good);
  }
}

TEST(PriceTableTest, BrokenFilesReportEveryProblem) {
  struct Case {
    const char* text;
    const char* want;  // substring of the error
  } cases[] = {
      {"{", "invalid JSON"},
      {"[]", "models"},
      {R"({"models": 3})", "models"},
      {R"({"models":[{"id":"a","prices":{}}]})", "provider"},
      {R"({"models":[{"provider":"p","prices":{}}]})", "\"id\""},
      {R"({"models":[{"provider":"p","id":"a"}]})", "\"prices\" is required"},
      {R"({"models":[{"provider":"p","id":"a","prices":{"inptu":1}}]})", "unknown price key \"inptu\""},
      {R"({"models":[{"provider":"p","id":"a","prices":{"input":"abc"}}]})", "not a decimal"},
      {R"({"models":[{"provider":"p","id":"a","prices":{"input":-1}}]})", "negative"},
      {R"({"models":[{"provider":"p","id":"a","prices":{},"versions":[{"valid_from":"2025-13-01","prices":{}}]}]})",
       "valid_from"},
      {R"({"models":[{"provider":"p","id":"a","prices":{},"windows":[{"start":"25:00","end":"01:00","prices":{}}]}]})",
       "HH:MM"},
      {R"({"models":[{"provider":"p","id":"a","match":{"regex":"("},"prices":{}}]})", "bad regex"},
      {R"({"models":[{"provider":"p","id":"a","prices":{"tiers":[{"input":1}]}}]})", "above_input_tokens"},
  };
  for (const auto& c : cases) {
    auto t = PriceTable::FromJson(c.text);
    ASSERT_FALSE(t.has_value()) << c.text;
    EXPECT_NE(t.error().message.find(c.want), std::string::npos) << c.text << " -> " << t.error().message;
  }
  // Every broken model is reported, not just the first.
  auto t = PriceTable::FromJson(
      R"({"models":[{"provider":"p","id":"a","prices":{"x":1}},{"provider":"p","id":"b","prices":{"y":1}}]})");
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message.find("models[0]"), std::string::npos);
  EXPECT_NE(t.error().message.find("models[1]"), std::string::npos);
  auto toml = PriceTable::FromToml("[[models]]\nprovider = \"p\"\nid = \n");
  ASSERT_FALSE(toml.has_value());
  EXPECT_NE(toml.error().message.find("line 3"), std::string::npos) << toml.error().message;
}

TEST(LiteLlmTest, LoadsTheSampleAsIs) {
  auto t = PriceTable::FromLiteLlm(ReadData("litellm-sample.json"));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  // sample_spec and the dall-e image model are skipped; 6 token-priced models.
  EXPECT_EQ(t->skipped(), 2u);
  EXPECT_EQ(t->model_count(), 6u);

  const ModelPrice* gpt = t->Find("openai", "gpt-4o");
  ASSERT_NE(gpt, nullptr);
  EXPECT_EQ(Input(*gpt), 2'500'000'000'000);  // 2.5e-06 per token = 2.5 per 1M
  EXPECT_EQ(static_cast<int64_t>(*gpt->prices.base.output), 10'000'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(*gpt->prices.base.cache_read), 1'250'000'000'000);
  EXPECT_FALSE(gpt->prices.base.cache_write.has_value());

  const ModelPrice* gem = t->Find("gcp.vertex_ai", "gemini-2.5-pro");
  ASSERT_NE(gem, nullptr);
  EXPECT_EQ(gem->provider, "gcp.vertex_ai");  // vertex_ai-language-models
  EXPECT_EQ(Input(*gem), 1'250'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(*gem->prices.base.cache_read), 125'000'000'000);
  ASSERT_EQ(gem->prices.tiers.size(), 1u);
  const Tier& tier = gem->prices.tiers[0];
  EXPECT_EQ(tier.above_input_tokens, 200'000u);
  EXPECT_EQ(static_cast<int64_t>(*tier.prices.input), 2'500'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(*tier.prices.output), 15'000'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(*tier.prices.cache_read), 250'000'000'000);
  EXPECT_EQ(static_cast<int64_t>(*tier.prices.cache_write), 2'500'000'000'000);
  EXPECT_NE(t->Find("gemini", "gemini-2.5-pro"), nullptr);  // alias rule

  const ModelPrice* nova = t->Find("aws.bedrock", "amazon.nova-2-lite-v1:0");  // bedrock_converse
  ASSERT_NE(nova, nullptr);
  EXPECT_EQ(static_cast<int64_t>(*nova->prices.base.cache_read), 75'000'000'000);
  EXPECT_NE(t->Find("bedrock", "ai21.j2-mid-v1"), nullptr);
  EXPECT_EQ(Input(*t->Find("openai", "text-embedding-3-small")), 20'000'000'000);
  EXPECT_EQ(t->Find("openai", "1024-x-1024/dall-e-2"), nullptr);
}

TEST(LiteLlmTest, PrefixesTiersAndOddEntries) {
  auto t = PriceTable::FromLiteLlm(R"({
    "vertex_ai/claude-x": {"litellm_provider": "vertex_ai", "input_cost_per_token": 3e-06,
      "input_cost_per_token_above_128k_tokens": 6e-06, "output_cost_per_token": 1.5e-05,
      "output_cost_per_reasoning_token": 2e-05},
    "xai/grok-z": {"litellm_provider": "xai", "input_cost_per_token": 2e-07, "output_cost_per_token": "5e-07"},
    "tts": {"litellm_provider": "openai", "mode": "audio_speech", "input_cost_per_character": 1.5e-05},
    "weird": {"litellm_provider": "openai", "input_cost_per_token": "cheap"},
    "list": [1, 2]
  })");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->skipped(), 3u);
  const ModelPrice* m = t->Find("google", "claude-x");  // prefix stripped, alias applied
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->prices.tiers.size(), 1u);
  EXPECT_EQ(m->prices.tiers[0].above_input_tokens, 128'000u);
  EXPECT_EQ(static_cast<int64_t>(*m->prices.base.reasoning), 20'000'000'000'000);
  EXPECT_NE(t->Find("x-ai", "xai/grok-z"), nullptr);
  EXPECT_EQ(Input(*t->Find("xai", "grok-z")), 200'000'000'000);

  EXPECT_FALSE(PriceTable::FromLiteLlm("[1]").has_value());
  EXPECT_FALSE(PriceTable::FromLiteLlm("{oops").has_value());
}

}  // namespace
}  // namespace spanvault::cost
