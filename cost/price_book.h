// cost/price_book — the cost engine: which price applies to a span, and what
// the span cost (docs/cost.md).
//
// A PriceBook is an ordered list of PriceTables: the user's tables first, in
// the order given, the built-in table last. Lookup tries, in order:
//   1. with a provider: each table that knows the provider (price_table.h
//      gives the order inside a table); the first table with a match wins;
//   2. when no table knows the provider, or none was given: each table
//      without a provider (model_match providers first, then table order).
// The price in force is then chosen by the span's start time (a time-of-day
// window, else the latest version whose valid_from has passed, else the base
// prices) and the tier by the request's input tokens (the highest tier whose
// above_input_tokens is strictly below them).
//
// Cost, in picodollars (10^-12 USD), each part rounded half away from zero:
//   input       = (input_tokens - cache_read - cache_write) × input
//   cache_read  = cache_read_tokens × cache_read   (missing: input price)
//   cache_write = cache_write_tokens × cache_write (missing: input price)
//   output      = (output_tokens - reasoning_tokens) × output
//   reasoning   = reasoning_tokens × reasoning     (missing: output price)
//   request     = per_request / 1000               (USD per 1,000 requests)
//   total       = the sum of the parts
// Usage follows docs/span.md: input includes cache reads and writes, output
// includes reasoning. Missing counts are zero.
//
// Thread-safety: a PriceBook is immutable; Lookup/Compute are const and safe
// from any number of threads. Reload builds a new book (LoadPriceBook) and
// swaps the shared_ptr.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "cost/price_table.h"
#include "span/decoder.h"

namespace spanvault::cost {

struct Cost {
  // Picodollars (10^-12 USD).
  int64_t total = 0, input = 0, output = 0, cache_read = 0, cache_write = 0, reasoning = 0, request = 0;
  std::string price_id;  // "<provider>/<model id>[@valid_from]"
  std::string version;   // valid_from of the version used, "" for the base prices
  std::string window;    // "HH:MM:SS-HH:MM:SS" when a time-of-day price applied
};

// Appends {"total":…,"input":…,"output":…,"cache_read":…,"cache_write":…,
// "reasoning":…,["request":…,]"currency":"USD","price_id":"…","source":"table"}.
// Amounts are USD as exact decimals (≤ 12 places, no exponent, trailing zeros
// trimmed); "request" only appears when non-zero.
void AppendCostJson(const Cost& cost, std::string& out);

struct Match {
  const PriceTable* table = nullptr;
  const ModelPrice* model = nullptr;
  const PriceVersion* version = nullptr;  // null: base prices
  const PriceWindow* window = nullptr;    // non-null: a time-of-day price
  ResolvedPrices prices;                  // tier chosen, fallbacks applied

  std::string PriceId() const;
};

class PriceBook {
 public:
  // `tables` in priority order (user tables first, the built-in last).
  explicit PriceBook(std::vector<std::shared_ptr<const PriceTable>> tables) : tables_(std::move(tables)) {}

  // nullopt when no table prices the model. Never allocates more than one
  // lowercased copy of the name per table consulted.
  std::optional<Match> Lookup(std::string_view provider, std::string_view model, int64_t start_ns,
                              uint64_t input_tokens) const;

  // Lookup in two steps, for callers that cache the first (it depends only
  // on the names): which table and model price `model`, then the prices in
  // force at `start_ns` for a request of `input_tokens`.
  struct Found {
    const PriceTable* table = nullptr;
    const ModelPrice* model = nullptr;  // null: unpriced
  };
  Found FindModel(std::string_view provider, std::string_view model) const;
  static Match At(const Found& found, int64_t start_ns, uint64_t input_tokens);

  // The cost of `usage` at the matched prices. Errors (kInvalidArgument): the
  // cache counts exceed the input, reasoning exceeds the output, or the cost
  // overflows 64-bit picodollars (~9.2 million USD).
  static Result<Cost> Compute(const Match& match, const span::Usage& usage);

  // Lookup + Compute; nullopt when the model is unpriced.
  Result<std::optional<Cost>> Compute(const span::Usage& usage, std::string_view provider, std::string_view model,
                                      int64_t start_ns) const;

  const std::vector<std::shared_ptr<const PriceTable>>& tables() const { return tables_; }

 private:
  std::vector<std::shared_ptr<const PriceTable>> tables_;
};

// Loads one price source:
//   "builtin"             the built-in table
//   "litellm:/path.json"  LiteLLM's file
//   "/path.toml"          spanvault's schema in TOML
//   "/path.json"          spanvault's schema in JSON, or LiteLLM's file when
//                         it has no "models" list (detected)
Result<std::shared_ptr<const PriceTable>> LoadPriceTable(const std::string& source);

// Loads every source in order and appends the built-in table (unless
// `with_builtin` is false or "builtin" is listed explicitly). Reports every
// broken source in one error, one "<source>: <problem>" per line.
Result<std::shared_ptr<const PriceBook>> LoadPriceBook(const std::vector<std::string>& sources,
                                                       bool with_builtin = true);

}  // namespace spanvault::cost
