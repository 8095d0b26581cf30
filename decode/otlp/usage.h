// decode/otlp/ — token usage and client cost of an OTLP span, from whichever
// convention carries them (Langfuse usage_details/cost_details, GenAI
// gen_ai.usage.*, OpenInference llm.token_count.* / llm.cost.*), converted to
// spanvault's inclusive usage (docs/span.md). Used by mapping.cc only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decode/otlp/json_out.h"
#include "decode/otlp/span_data.h"

namespace spanvault::otlp {

struct UsageInputs {
  const Pool& pool;
  const int32_t* slot;             // pool index per Attr (-1: absent)
  std::vector<uint8_t>& consumed;  // per span attribute, from `base`
  uint32_t base;
  bool anthropic;  // provider is anthropic (its input_tokens may exclude cache)
  // The instrumentation (scope) is known to copy Anthropic's input_tokens,
  // which excludes the cache, into gen_ai.usage.input_tokens
  // (InputTokensExcludeCache in conventions.h).
  bool input_excludes_cache = false;
};

// Writes "usage" and "cost" into the span object `o` when the span has them,
// and marks the attributes it used as consumed.
void WriteUsageAndCost(UsageInputs& in, ObjectOut& o, std::string& out);

}  // namespace spanvault::otlp
