#include <array>
#include <utility>

#include "cost/price_table.h"

// Provider aliases and dated model names. Kept apart from the table because
// both are policy that changes with the ecosystem, not with the table format.

namespace spanvault::cost {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 35> kAliases = {{
    {"google", "gcp.vertex_ai"},
    {"gemini", "gcp.vertex_ai"},
    {"vertex", "gcp.vertex_ai"},
    {"vertex_ai", "gcp.vertex_ai"},
    {"vertexai", "gcp.vertex_ai"},
    {"gcp.gemini", "gcp.vertex_ai"},
    {"gcp.gen_ai", "gcp.vertex_ai"},
    {"google_genai", "gcp.vertex_ai"},
    {"google-vertex", "gcp.vertex_ai"},
    {"aws", "aws.bedrock"},
    {"bedrock", "aws.bedrock"},
    {"bedrock_converse", "aws.bedrock"},
    {"amazon", "aws.bedrock"},
    {"amazon_bedrock", "aws.bedrock"},
    {"amazon-bedrock", "aws.bedrock"},
    {"azure", "azure.ai.openai"},
    {"azure_openai", "azure.ai.openai"},
    {"azure-openai", "azure.ai.openai"},
    {"azure_ai", "azure.ai.openai"},
    {"azure.ai.inference", "azure.ai.openai"},
    {"x-ai", "x_ai"},
    {"xai", "x_ai"},
    {"grok", "x_ai"},
    {"mistral", "mistral_ai"},
    {"mistralai", "mistral_ai"},
    {"together_ai", "together"},
    {"together-ai", "together"},
    {"togetherai", "together"},
    {"fireworks_ai", "fireworks"},
    {"fireworks-ai", "fireworks"},
    {"moonshot", "moonshotai"},
    {"cohere_chat", "cohere"},
    {"text-completion-openai", "openai"},
    {"openai_chat", "openai"},
    {"anthropic_messages", "anthropic"},
}};

bool Digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

int Num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool PlausibleDate(int y, int m, int d) { return y >= 2000 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31; }

}  // namespace

std::string CanonicalProvider(std::string_view name) {
  std::string lower = AsciiLower(name);
  while (!lower.empty() && lower.back() == ' ') lower.pop_back();
  for (const auto& [alias, id] : kAliases) {
    if (lower == alias) return std::string(id);
  }
  return lower;
}

std::optional<std::string_view> StripDateSuffix(std::string_view name) {
  // -YYYY-MM-DD
  if (name.size() > 11) {
    std::string_view t = name.substr(name.size() - 11);
    if (t[0] == '-' && t[5] == '-' && t[8] == '-' && Digits(t.substr(1, 4)) && Digits(t.substr(6, 2)) &&
        Digits(t.substr(9, 2)) && PlausibleDate(Num(t.substr(1, 4)), Num(t.substr(6, 2)), Num(t.substr(9, 2)))) {
      return name.substr(0, name.size() - 11);
    }
  }
  // -YYYYMMDD or @YYYYMMDD
  if (name.size() > 9) {
    std::string_view t = name.substr(name.size() - 9);
    if ((t[0] == '-' || t[0] == '@') && Digits(t.substr(1)) &&
        PlausibleDate(Num(t.substr(1, 4)), Num(t.substr(5, 2)), Num(t.substr(7, 2)))) {
      return name.substr(0, name.size() - 9);
    }
  }
  return std::nullopt;
}

}  // namespace spanvault::cost
