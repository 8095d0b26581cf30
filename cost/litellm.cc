#include <algorithm>
#include <string>
#include <string_view>

#include "cost/exact_json.h"
#include "cost/price_table.h"
#include "cost/table_internal.h"

// LiteLLM's model_prices_and_context_window.json, loaded as is.
//
// Each top-level key is a model name; prices are USD per token, read as
// decimal text at scale 18 (10^-18 USD per token is exactly our unit of
// 10^-12 USD per 1M tokens, so 2.5e-06 becomes 2.5 per 1M with no
// arithmetic). Keys ending in _above_<N>k_tokens become a whole-request tier
// above N×1000 input tokens. A "provider/" prefix on the key that names the
// entry's own litellm_provider is also matched without it.

namespace spanvault::cost {
namespace {

using nlohmann::json;

constexpr int kPerTokenScale = 18;

// Modes whose prices are not per token (or not per token only).
constexpr std::string_view kSkippedModes[] = {"image_generation", "audio_transcription",
                                              "audio_speech",     "video_generation",
                                              "image_edit",       "search",
                                              "rerank",           "ocr"};

std::string ProviderFromLiteLlm(std::string_view p) {
  std::string lower = AsciiLower(p);
  if (lower.starts_with("vertex_ai")) return "gcp.vertex_ai";
  if (lower.starts_with("bedrock")) return "aws.bedrock";
  if (lower.starts_with("azure")) return "azure.ai.openai";
  return CanonicalProvider(lower);
}

// Maps a LiteLLM base key (without the _above_ suffix) to our price slot.
std::optional<PriceUnits>* SlotFor(std::string_view key, PriceSet& set) {
  if (key == "input_cost_per_token") return &set.input;
  if (key == "output_cost_per_token") return &set.output;
  if (key == "cache_read_input_token_cost") return &set.cache_read;
  if (key == "cache_creation_input_token_cost") return &set.cache_write;
  if (key == "output_cost_per_reasoning_token") return &set.reasoning;
  return nullptr;
}

// "input_cost_per_token_above_200k_tokens" -> ("input_cost_per_token", 200000).
bool SplitTierKey(std::string_view key, std::string_view& base, uint64_t& above) {
  size_t pos = key.rfind("_above_");
  if (pos == std::string_view::npos || !key.ends_with("k_tokens")) return false;
  std::string_view num = key.substr(pos + 7, key.size() - pos - 7 - 8);
  if (num.empty() || num.size() > 9) return false;
  uint64_t v = 0;
  for (char c : num) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  base = key.substr(0, pos);
  above = v * 1000;
  return true;
}

}  // namespace

Result<PriceTable> PriceTable::FromLiteLlm(std::string_view text) {
  auto root = ParseExactJson(text);
  if (!root) return Fail(root.error());
  if (!root->is_object()) return Fail(Error::Invalid("a LiteLLM price file is an object of models"));
  PriceTable table;
  table.source_ = "litellm";
  for (const auto& [name, entry] : root->items()) {
    if (name == "sample_spec" || !entry.is_object()) {
      ++table.skipped_;
      continue;
    }
    auto mode = entry.find("mode");
    bool skip_mode = false;
    if (mode != entry.end() && mode->is_string()) {
      for (std::string_view m : kSkippedModes) skip_mode |= mode->get_ref<const std::string&>() == m;
    }
    if (skip_mode || (!entry.contains("input_cost_per_token") && !entry.contains("output_cost_per_token"))) {
      ++table.skipped_;
      continue;
    }
    ModelPrice model;
    model.id = name;
    std::string raw_provider;
    if (auto p = entry.find("litellm_provider"); p != entry.end() && p->is_string()) {
      raw_provider = p->get<std::string>();
    }
    model.provider = raw_provider.empty() ? "unknown" : ProviderFromLiteLlm(raw_provider);

    bool broken = false;
    for (const auto& [key, value] : entry.items()) {
      std::string_view base = key;
      uint64_t above = 0;
      bool tiered = SplitTierKey(key, base, above);
      PriceSet* set = &model.prices.base;
      if (tiered) {
        Tier* tier = nullptr;
        for (Tier& t : model.prices.tiers) {
          if (t.above_input_tokens == above) tier = &t;
        }
        if (!tier) {
          model.prices.tiers.push_back(Tier{.above_input_tokens = above});
          tier = &model.prices.tiers.back();
        }
        set = &tier->prices;
      }
      std::optional<PriceUnits>* slot = SlotFor(base, *set);
      if (!slot || value.is_null()) continue;
      auto price = internal::ParsePrice(value, kPerTokenScale, name + "." + key);
      if (!price) {
        broken = true;  // one odd field skips the model, never the file
        break;
      }
      *slot = *price;
    }
    if (broken) {
      ++table.skipped_;
      continue;
    }
    std::sort(model.prices.tiers.begin(), model.prices.tiers.end(),
              [](const Tier& a, const Tier& b) { return a.above_input_tokens < b.above_input_tokens; });

    // "vertex_ai/gemini-2.5-pro" with provider vertex_ai also answers to
    // "gemini-2.5-pro".
    size_t slash = name.find('/');
    if (slash != std::string::npos && !raw_provider.empty() &&
        ProviderFromLiteLlm(name.substr(0, slash)) == model.provider) {
      json rule = {{"or", json::array({{{"equals", name}}, {{"equals", name.substr(slash + 1)}}})}};
      model.match = *MatchRule::FromJson(rule);
    } else {
      model.match = MatchRule::Equals(name);
    }
    table.Add(std::move(model));
  }
  table.Index();
  return table;
}

}  // namespace spanvault::cost
