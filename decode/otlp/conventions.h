// decode/otlp/ — the attribute names of the conventions the OTLP mapping reads
// (OpenTelemetry GenAI incl. legacy names, OpenInference, Langfuse, Brokle,
// Traceloop) and their value normalisation. Pure functions, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spanvault::otlp {

// Every span attribute key the mapping interprets. kNone: kept as is.
enum class Attr : uint8_t {
  kNone,
  // Generic / OpenInference / Langfuse identities
  kSessionId,       // session.id
  kUserId,          // user.id
  kConversationId,  // gen_ai.conversation.id
  // OpenTelemetry GenAI
  kGenAiProviderName,
  kGenAiSystem,
  kGenAiOperationName,
  kGenAiRequestModel,
  kGenAiResponseModel,
  kGenAiInputTokens,
  kGenAiOutputTokens,
  kGenAiPromptTokens,      // legacy
  kGenAiCompletionTokens,  // legacy
  kGenAiCacheReadTokens,   // cache_read.input_tokens, legacy cache_read_input_tokens
  kGenAiCacheWriteTokens,  // cache_creation.input_tokens, legacy cache_creation_input_tokens
  kGenAiReasoningTokens,
  kGenAiTotalTokens,  // gen_ai.usage.total_tokens, llm.usage.total_tokens (Traceloop)
  kGenAiCost,         // gen_ai.usage.cost
  kGenAiInputMessages,
  kGenAiOutputMessages,
  kGenAiPrompt,             // legacy gen_ai.prompt
  kGenAiCompletion,         // legacy gen_ai.completion
  kGenAiToolCallArguments,  // gen_ai.tool.call.arguments → input
  kGenAiToolCallResult,     // gen_ai.tool.call.result → output
  // OpenInference
  kOiSpanKind,
  kLlmModelName,
  kLlmProvider,
  kLlmSystem,
  kLlmPromptTokens,
  kLlmCompletionTokens,
  kLlmTotalTokens,
  kLlmCacheReadTokens,
  kLlmCacheWriteTokens,
  kLlmReasoningTokens,
  kLlmInvocationParameters,
  kLlmCostTotal,
  kLlmCostPrompt,
  kLlmCostCompletion,
  kLlmCostPromptInput,          // llm.cost.prompt_details.input (uncached input)
  kLlmCostPromptCacheRead,      // llm.cost.prompt_details.cache_read
  kLlmCostPromptCacheWrite,     // llm.cost.prompt_details.cache_write
  kLlmCostCompletionOutput,     // llm.cost.completion_details.output
  kLlmCostCompletionReasoning,  // llm.cost.completion_details.reasoning
  kInputValue,
  kInputMimeType,
  kOutputValue,
  kOutputMimeType,
  kTagTags,
  kMetadata,  // OpenInference `metadata` (JSON string)
  // Langfuse
  kLfType,
  kLfModelName,
  kLfModelParameters,
  kLfUsageDetails,
  kLfCostDetails,
  kLfInput,
  kLfOutput,
  kLfLevel,
  kLfStatusMessage,
  kLfMetadata,  // langfuse.observation.metadata (a whole JSON object)
  kLfSessionId,
  kLfUserId,
  kLfEnvironment,
  kLfRelease,
  kLfTraceTags,
  // Brokle, Traceloop
  kBrokleType,
  kBrokleLevel,        // brokle.span.level (ERROR → status error)
  kBrokleTags,         // brokle.tags
  kBrokleEnvironment,  // brokle.environment
  kBrokleRelease,      // brokle.release
  kTraceloopKind,
  // Braintrust's OTel attributes (its SDKs' exporters)
  kBtSpanAttributes,  // braintrust.span_attributes {name, type}
  kBtInputJson,       // braintrust.input_json
  kBtOutputJson,      // braintrust.output_json
  kBtInput,           // braintrust.input
  kBtOutput,          // braintrust.output
  kBtExpected,        // braintrust.expected
  kBtMetadata,        // braintrust.metadata (model, provider, the rest → attributes)
  kBtMetrics,         // braintrust.metrics (tokens, estimated_cost, the rest → metrics)
  kBtScores,          // braintrust.scores
  kBtTags,            // braintrust.tags
  // spanvault's own (its OTLP export, upstream/format/export_attributes.cc)
  kSvType,  // spanvault.span.type: the canonical type, exactly
  kSvTags,  // spanvault.tags
  kSvExpected,
  kSvCostTotal,
  kSvCostInput,
  kSvCostOutput,
  kSvCostCacheRead,
  kSvCostCacheWrite,
  kSvCostReasoning,
  kSvCostRequest,
  // Prefixes (the rest of the key is the name)
  kGenAiRequestParam,  // gen_ai.request.<param> → model_parameters.<param>
  kLfMetadataKey,      // langfuse.observation.metadata.<key> → attributes.<key>
  kSvScoreKey,         // spanvault.score.<k> → scores.<k>
  kSvMetricKey,        // spanvault.metric.<k> → metrics.<k>
  kCount
};

// The attribute a span key stands for; for the prefix kinds `suffix` is set
// to the rest of the key.
Attr ClassifySpanKey(std::string_view key, std::string_view* suffix);

// Provider names normalised to gen_ai.provider.name values ("OpenAI" →
// "openai", "vertexai" → "gcp.vertex_ai", "mistralai" → "mistral_ai", ...);
// unknown names are lowercased.
std::string NormalizeProvider(std::string_view name);

// Canonical type names ("generation", "retrieval", ...) for the values of the
// explicit type attributes (Langfuse observation types, Brokle span types,
// OpenInference span kinds, Traceloop span kinds), case-insensitive;
// empty for values that do not decide a type (e.g. OpenInference UNKNOWN).
std::string_view TypeFromExplicit(std::string_view value);
// From gen_ai.operation.name; empty when the operation does not decide.
std::string_view TypeFromOperation(std::string_view operation);
// From braintrust.span_attributes.type (llm, tool, function, task, score,
// eval); empty for others.
std::string_view TypeFromBraintrust(std::string_view type);

// True for instrumentation scopes known to write Anthropic's input_tokens
// (cache excluded) as gen_ai.usage.input_tokens beside the cache counts,
// and input + output as the total: OpenLLMetry's JS
// @traceloop/instrumentation-anthropic (read in 0.27.0).
bool InputTokensExcludeCache(std::string_view scope_name);

// "client" for SPAN_KIND_CLIENT (3), ...; empty for unspecified/unknown.
std::string_view SpanKindName(uint32_t kind);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace spanvault::otlp
