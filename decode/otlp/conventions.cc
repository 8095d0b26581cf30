#include "decode/otlp/conventions.h"

#include <unordered_map>

// One hash lookup per attribute key (this runs for every attribute of every
// span); only keys that miss the table are tested against the two prefixes.

namespace spanvault::otlp {
namespace {

const std::unordered_map<std::string_view, Attr>& KeyTable() {
  static const auto* table = new std::unordered_map<std::string_view, Attr>{
      {"session.id", Attr::kSessionId},
      {"user.id", Attr::kUserId},
      {"gen_ai.conversation.id", Attr::kConversationId},
      {"gen_ai.provider.name", Attr::kGenAiProviderName},
      {"gen_ai.system", Attr::kGenAiSystem},
      {"gen_ai.operation.name", Attr::kGenAiOperationName},
      {"gen_ai.request.model", Attr::kGenAiRequestModel},
      {"gen_ai.response.model", Attr::kGenAiResponseModel},
      {"gen_ai.usage.input_tokens", Attr::kGenAiInputTokens},
      {"gen_ai.usage.output_tokens", Attr::kGenAiOutputTokens},
      {"gen_ai.usage.prompt_tokens", Attr::kGenAiPromptTokens},
      {"gen_ai.usage.completion_tokens", Attr::kGenAiCompletionTokens},
      {"gen_ai.usage.cache_read.input_tokens", Attr::kGenAiCacheReadTokens},
      {"gen_ai.usage.cache_read_input_tokens", Attr::kGenAiCacheReadTokens},
      {"gen_ai.usage.cache_creation.input_tokens", Attr::kGenAiCacheWriteTokens},
      {"gen_ai.usage.cache_creation_input_tokens", Attr::kGenAiCacheWriteTokens},
      {"gen_ai.usage.reasoning.output_tokens", Attr::kGenAiReasoningTokens},
      {"gen_ai.usage.reasoning_tokens", Attr::kGenAiReasoningTokens},
      {"gen_ai.usage.total_tokens", Attr::kGenAiTotalTokens},
      {"llm.usage.total_tokens", Attr::kGenAiTotalTokens},
      {"gen_ai.usage.cost", Attr::kGenAiCost},
      {"gen_ai.input.messages", Attr::kGenAiInputMessages},
      {"gen_ai.output.messages", Attr::kGenAiOutputMessages},
      {"gen_ai.prompt", Attr::kGenAiPrompt},
      {"gen_ai.completion", Attr::kGenAiCompletion},
      {"gen_ai.tool.call.arguments", Attr::kGenAiToolCallArguments},
      {"gen_ai.tool.call.result", Attr::kGenAiToolCallResult},
      // Brokle's names for the cache and reasoning counts (sdk/ATTRIBUTE_MAPPING.md)
      {"gen_ai.usage.input_tokens.cache_read", Attr::kGenAiCacheReadTokens},
      {"gen_ai.usage.input_tokens.cache_creation", Attr::kGenAiCacheWriteTokens},
      {"openinference.span.kind", Attr::kOiSpanKind},
      {"llm.model_name", Attr::kLlmModelName},
      {"llm.provider", Attr::kLlmProvider},
      {"llm.system", Attr::kLlmSystem},
      {"llm.token_count.prompt", Attr::kLlmPromptTokens},
      {"llm.token_count.completion", Attr::kLlmCompletionTokens},
      {"llm.token_count.total", Attr::kLlmTotalTokens},
      {"llm.token_count.prompt_details.cache_read", Attr::kLlmCacheReadTokens},
      {"llm.token_count.prompt_details.cache_write", Attr::kLlmCacheWriteTokens},
      {"llm.token_count.completion_details.reasoning", Attr::kLlmReasoningTokens},
      {"llm.invocation_parameters", Attr::kLlmInvocationParameters},
      {"llm.cost.total", Attr::kLlmCostTotal},
      {"llm.cost.prompt", Attr::kLlmCostPrompt},
      {"llm.cost.completion", Attr::kLlmCostCompletion},
      {"llm.cost.prompt_details.input", Attr::kLlmCostPromptInput},
      {"llm.cost.prompt_details.cache_read", Attr::kLlmCostPromptCacheRead},
      {"llm.cost.prompt_details.cache_write", Attr::kLlmCostPromptCacheWrite},
      {"llm.cost.completion_details.output", Attr::kLlmCostCompletionOutput},
      {"llm.cost.completion_details.reasoning", Attr::kLlmCostCompletionReasoning},
      {"input.value", Attr::kInputValue},
      {"input.mime_type", Attr::kInputMimeType},
      {"output.value", Attr::kOutputValue},
      {"output.mime_type", Attr::kOutputMimeType},
      {"tag.tags", Attr::kTagTags},
      {"metadata", Attr::kMetadata},
      {"langfuse.observation.type", Attr::kLfType},
      {"langfuse.observation.model.name", Attr::kLfModelName},
      {"langfuse.observation.model.parameters", Attr::kLfModelParameters},
      {"langfuse.observation.usage_details", Attr::kLfUsageDetails},
      {"langfuse.observation.cost_details", Attr::kLfCostDetails},
      {"langfuse.observation.input", Attr::kLfInput},
      {"langfuse.observation.output", Attr::kLfOutput},
      {"langfuse.observation.level", Attr::kLfLevel},
      {"langfuse.observation.status_message", Attr::kLfStatusMessage},
      {"langfuse.observation.metadata", Attr::kLfMetadata},
      {"langfuse.session.id", Attr::kLfSessionId},
      {"langfuse.user.id", Attr::kLfUserId},
      {"langfuse.environment", Attr::kLfEnvironment},
      {"langfuse.release", Attr::kLfRelease},
      {"langfuse.trace.tags", Attr::kLfTraceTags},
      {"brokle.span.type", Attr::kBrokleType},
      {"brokle.span.level", Attr::kBrokleLevel},
      {"brokle.tags", Attr::kBrokleTags},
      {"brokle.environment", Attr::kBrokleEnvironment},
      {"brokle.release", Attr::kBrokleRelease},
      {"braintrust.span_attributes", Attr::kBtSpanAttributes},
      {"braintrust.input_json", Attr::kBtInputJson},
      {"braintrust.output_json", Attr::kBtOutputJson},
      {"braintrust.input", Attr::kBtInput},
      {"braintrust.output", Attr::kBtOutput},
      {"braintrust.expected", Attr::kBtExpected},
      {"braintrust.metadata", Attr::kBtMetadata},
      {"braintrust.metrics", Attr::kBtMetrics},
      {"braintrust.scores", Attr::kBtScores},
      {"braintrust.tags", Attr::kBtTags},
      {"traceloop.span.kind", Attr::kTraceloopKind},
      {"spanvault.span.type", Attr::kSvType},
      {"spanvault.tags", Attr::kSvTags},
      {"spanvault.expected", Attr::kSvExpected},
      {"spanvault.cost.total", Attr::kSvCostTotal},
      {"spanvault.cost.input", Attr::kSvCostInput},
      {"spanvault.cost.output", Attr::kSvCostOutput},
      {"spanvault.cost.cache_read", Attr::kSvCostCacheRead},
      {"spanvault.cost.cache_write", Attr::kSvCostCacheWrite},
      {"spanvault.cost.reasoning", Attr::kSvCostReasoning},
      {"spanvault.cost.request", Attr::kSvCostRequest},
  };
  return *table;
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

Attr ClassifySpanKey(std::string_view key, std::string_view* suffix) {
  const auto& table = KeyTable();
  if (auto it = table.find(key); it != table.end()) return it->second;
  static constexpr std::string_view kRequest = "gen_ai.request.";
  static constexpr std::string_view kLfMeta = "langfuse.observation.metadata.";
  if (key.size() > kRequest.size() && key.starts_with(kRequest)) {
    *suffix = key.substr(kRequest.size());
    return Attr::kGenAiRequestParam;
  }
  if (key.size() > kLfMeta.size() && key.starts_with(kLfMeta)) {
    *suffix = key.substr(kLfMeta.size());
    return Attr::kLfMetadataKey;
  }
  static constexpr std::string_view kSvScore = "spanvault.score.", kSvMetric = "spanvault.metric.";
  if (key.size() > kSvScore.size() && key.starts_with(kSvScore)) {
    *suffix = key.substr(kSvScore.size());
    return Attr::kSvScoreKey;
  }
  if (key.size() > kSvMetric.size() && key.starts_with(kSvMetric)) {
    *suffix = key.substr(kSvMetric.size());
    return Attr::kSvMetricKey;
  }
  return Attr::kNone;
}

std::string NormalizeProvider(std::string_view name) {
  static const auto* table = new std::unordered_map<std::string_view, std::string_view>{
      {"openai", "openai"},
      {"anthropic", "anthropic"},
      {"azure.ai.openai", "azure.ai.openai"},
      {"az.ai.openai", "azure.ai.openai"},
      {"azure_openai", "azure.ai.openai"},
      {"azure", "azure.ai.openai"},
      {"azure.ai.inference", "azure.ai.inference"},
      {"az.ai.inference", "azure.ai.inference"},
      {"aws.bedrock", "aws.bedrock"},
      {"bedrock", "aws.bedrock"},
      {"aws", "aws.bedrock"},
      {"aws_bedrock", "aws.bedrock"},
      {"amazon_bedrock", "aws.bedrock"},
      {"gcp.vertex_ai", "gcp.vertex_ai"},
      {"vertex_ai", "gcp.vertex_ai"},
      {"vertexai", "gcp.vertex_ai"},
      {"vertex", "gcp.vertex_ai"},
      {"gcp.gemini", "gcp.gemini"},
      {"gemini", "gcp.gemini"},
      {"google_genai", "gcp.gemini"},
      {"google_ai_studio", "gcp.gemini"},
      {"gcp.gen_ai", "gcp.gen_ai"},
      {"google", "gcp.gen_ai"},
      {"mistral_ai", "mistral_ai"},
      {"mistralai", "mistral_ai"},
      {"mistral", "mistral_ai"},
      {"x_ai", "x_ai"},
      {"xai", "x_ai"},
      {"ibm.watsonx.ai", "ibm.watsonx.ai"},
      {"watsonx", "ibm.watsonx.ai"},
      {"cohere", "cohere"},
      {"deepseek", "deepseek"},
      {"groq", "groq"},
      {"perplexity", "perplexity"},
  };
  std::string lower = Lower(name);
  if (auto it = table->find(lower); it != table->end()) return std::string(it->second);
  return lower;
}

std::string_view TypeFromExplicit(std::string_view v) {
  struct Entry {
    std::string_view value, type;
  };
  static constexpr Entry kTable[] = {
      {"generation", "generation"}, {"llm", "generation"},     {"span", "span"},           {"event", "event"},
      {"agent", "agent"},           {"tool", "tool"},          {"chain", "chain"},         {"retriever", "retrieval"},
      {"retrieval", "retrieval"},   {"reranker", "retrieval"}, {"evaluator", "evaluator"}, {"embedding", "embedding"},
      {"guardrail", "guardrail"},   {"workflow", "chain"},     {"task", "span"},
  };
  for (const auto& e : kTable) {
    if (EqualsIgnoreCase(v, e.value)) return e.type;
  }
  return {};
}

// The operation names of the GenAI semantic conventions (v1.38: chat,
// create_agent, embeddings, execute_tool, generate_content, invoke_agent,
// retrieval, text_completion; invoke_workflow from the workflow spans).
std::string_view TypeFromOperation(std::string_view op) {
  if (op == "chat" || op == "text_completion" || op == "generate_content") return "generation";
  if (op == "embeddings") return "embedding";
  if (op == "execute_tool") return "tool";
  if (op == "invoke_agent" || op == "create_agent") return "agent";
  if (op == "retrieval") return "retrieval";
  if (op == "invoke_workflow") return "chain";
  return {};
}

std::string_view TypeFromBraintrust(std::string_view t) {
  if (t == "llm") return "generation";
  if (t == "tool") return "tool";
  if (t == "score") return "evaluator";
  if (t == "function" || t == "task" || t == "eval") return "span";
  return {};
}

bool InputTokensExcludeCache(std::string_view scope_name) {
  return scope_name == "@traceloop/instrumentation-anthropic";
}

std::string_view SpanKindName(uint32_t kind) {
  static constexpr std::string_view kNames[] = {"", "internal", "server", "client", "producer", "consumer"};
  return kind < std::size(kNames) ? kNames[kind] : std::string_view{};
}

}  // namespace spanvault::otlp
