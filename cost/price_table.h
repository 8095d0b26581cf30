// cost/price_table — one immutable table of model prices (docs/cost.md).
//
// A table is a list of providers and models. Each model has a provider, an
// id, a match rule (default: equals id), base prices, optional whole-request
// tiers, dated versions and UTC time-of-day windows. Prices are exact integers
// in units of 10^-12 USD per 1M tokens (per 1,000 requests for per_request).
// Schema and an example: cost/README.md.
//
// Lookup order inside one table, for a name `m` (ASCII case-insensitive):
//   with a provider P known to the table (after aliasing, see
//   CanonicalProvider, or P's provider_match rule):
//     exact(m), exact(undated m), patterns(m), patterns(undated m) in P,
//     then the same in each of P's fallback providers;
//   without a provider (or one no table knows):
//     each provider whose model_match accepts m, in table order (as above),
//     then exact(m), exact(undated m) over all providers in table order,
//     then patterns(m), patterns(undated m) over all models in table order.
// "Patterns" are the rules that are not plain equals, tried in table order.
// "Undated" drops a trailing -YYYY-MM-DD, -YYYYMMDD or @YYYYMMDD.
//
// Thread-safety: immutable after construction; every const method may be
// called from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "cost/decimal.h"
#include "cost/match.h"

namespace spanvault::cost {

// 10^-12 USD per 1M tokens (or per 1,000 requests).
using PriceUnits = Int128;
constexpr int kPriceScale = 12;

// One set of prices; absent means "not stated" (see ResolvedPrices for the
// fallbacks).
struct PriceSet {
  std::optional<PriceUnits> input, output, cache_read, cache_write, reasoning, per_request;
};

// A whole-request tier: used when the request's input tokens are strictly
// above `above_input_tokens`. Prices it does not state keep the base value.
struct Tier {
  uint64_t above_input_tokens = 0;
  PriceSet prices;
};

struct PriceLevel {
  PriceSet base;
  std::vector<Tier> tiers;  // ascending by above_input_tokens
};

// The prices applying to one request, fallbacks applied:
//   cache_read, cache_write -> input;  reasoning -> output;  others -> 0.
struct ResolvedPrices {
  PriceUnits input = 0, output = 0, cache_read = 0, cache_write = 0, reasoning = 0, per_request = 0;
};

struct PriceVersion {
  std::string valid_from;     // "YYYY-MM-DD"
  int64_t valid_from_ns = 0;  // midnight UTC
  PriceLevel prices;
};

// Active when start <= time of day (UTC) < end; wraps past midnight when
// start > end.
struct PriceWindow {
  uint32_t start_s = 0, end_s = 0;  // seconds since midnight
  std::string label;                // "01:00:00-04:00:00"
  PriceLevel prices;
};

struct ModelPrice {
  std::string provider;  // canonical provider id
  std::string id;
  MatchRule match;
  PriceLevel prices;                   // before the first version
  std::vector<PriceVersion> versions;  // ascending by valid_from
  std::vector<PriceWindow> windows;    // later entries win

  // The level in force at `start_ns` (windows, then the latest version that
  // started, then the base), and which version/window it came from.
  const PriceLevel& LevelAt(int64_t start_ns, const PriceVersion** version, const PriceWindow** window) const;
};

// Picks the tier for `input_tokens` and applies the fallbacks.
ResolvedPrices Resolve(const PriceLevel& level, uint64_t input_tokens);

// Maps provider names to the ids tables use: gen_ai.provider.name values
// where OpenTelemetry defines one. Lowercases; unknown names come back
// lowercased. Aliases:
//   gcp.vertex_ai <- google, gemini, vertex, vertex_ai, gcp.gemini, gcp.gen_ai, google_genai, google-vertex
//   aws.bedrock   <- aws, bedrock, bedrock_converse, amazon, amazon_bedrock, amazon-bedrock
//   azure.ai.openai <- azure, azure_openai, azure-openai, azure_ai, azure.ai.inference
//   x_ai <- x-ai, xai, grok;  mistral_ai <- mistral, mistralai
//   together <- together_ai, together-ai, togetherai;  fireworks <- fireworks_ai, fireworks-ai
//   moonshotai <- moonshot;  cohere <- cohere_chat;  openai <- text-completion-openai
std::string CanonicalProvider(std::string_view name);

// The model name without a trailing date (-2024-08-06, -20250514,
// @20250514); nullopt when there is none.
std::optional<std::string_view> StripDateSuffix(std::string_view name);

class PriceTable {
 public:
  // Spanvault's own price file (JSON text; decimals read exactly).
  static Result<PriceTable> FromJson(std::string_view text);
  // The same schema written as TOML.
  static Result<PriceTable> FromToml(std::string_view text);
  // LiteLLM's model_prices_and_context_window.json, as is. Entries without a
  // per-token price, non-token modes (images, audio, ...) and `sample_spec`
  // are skipped and counted in skipped().
  static Result<PriceTable> FromLiteLlm(std::string_view text);
  // From a parsed tree (exact_json.h) in spanvault's schema.
  static Result<PriceTable> FromTree(const nlohmann::json& root);

  // The table compiled into the binary (cost/builtin_prices.json). Built on
  // first use; shared, never freed.
  static std::shared_ptr<const PriceTable> BuiltIn();

  // See the lookup order at the top of this file. `provider` may be empty.
  // `provider_known` is set to whether this table knows the provider. The
  // result points into this table (valid as long as the table); null: no
  // match.
  const ModelPrice* Find(std::string_view provider, std::string_view model, bool* provider_known = nullptr) const;
  // Provider-less lookup.
  const ModelPrice* FindAnyProvider(std::string_view model) const;

  size_t model_count() const { return models_.size(); }
  size_t skipped() const { return skipped_; }
  const std::string& source() const { return source_; }
  const std::vector<ModelPrice>& models() const { return models_; }
  // For loaders, before the table is shared.
  void set_source(std::string s) { source_ = std::move(s); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

  struct Provider {
    std::string id;
    std::optional<MatchRule> model_match;
    std::optional<MatchRule> provider_match;
    std::vector<std::string> fallback;
    NameMap exact;
    std::vector<uint32_t> patterns;
  };

  Provider& ProviderFor(const std::string& id);
  Status AddProviders(const nlohmann::json& list);
  void Index();
  const Provider* ResolveProvider(std::string_view lower_name) const;
  const ModelPrice* FindIn(const Provider& p, std::string_view lower, std::string_view original, int depth) const;
  const ModelPrice* FindExact(const NameMap& map, std::string_view lower,
                              std::optional<std::string_view> undated) const;
  const ModelPrice* FindPattern(const std::vector<uint32_t>& idx, std::string_view lower, std::string_view original,
                                std::optional<std::string_view> undated_lower,
                                std::optional<std::string_view> undated_original) const;

  // Appends a model (provider id canonicalised) and rebuilds nothing; call
  // Index() once all models are in.
  void Add(ModelPrice model);

  std::string source_;
  std::vector<ModelPrice> models_;
  std::vector<Provider> providers_;
  NameMap provider_index_;
  NameMap global_exact_;
  std::vector<uint32_t> global_patterns_;
  size_t skipped_ = 0;
};

}  // namespace spanvault::cost
