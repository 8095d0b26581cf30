// upstream/format/ — the OTLP export's dialects: which attributes the backend
// reads (otlp_export.h). On their own so that config/ can check a `dialect`
// value without the export code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spanvault::otlp {

enum class Dialect : uint8_t {
  kOtel,           // GenAI semantic conventions + spanvault.cost.*
  kLangfuse,       // + langfuse.observation.*, langfuse.session.id, ...
  kBraintrust,     // + braintrust.input_json/output_json/metadata/metrics/...
  kBrokle,         // + brokle.span.type, brokle.span.level
  kOpenInference,  // openinference.span.kind, llm.*, input.value/output.value (Arize Phoenix)
};

// "otel", "langfuse", "braintrust", "brokle", "openinference"; nullopt for others.
std::optional<Dialect> ParseDialect(std::string_view name);
std::string_view DialectName(Dialect d);
std::string KnownDialects();  // "otel, langfuse, ..." for messages

}  // namespace spanvault::otlp
