// cost/ — the pricing stage: between decoding and the store, it prices every
// span of a batch that names a model and carries usage, from the current
// PriceBook, writing the span's `cost` into its canonical JSON (docs/cost.md).
// It counts the spans it cannot price per model name and swaps in a new book
// on reload without stopping ingest.
//
// The decoder notes in Batch::to_price what each candidate span needs (model,
// provider, type, start, usage) and where its cost belongs; Apply() computes
// the costs and rebuilds the batch's data with them in one pass.
//
// Threading: Apply() runs on the I/O threads, concurrently. The book is an
// immutable shared_ptr; each thread keeps its own reference and takes the new
// one when the generation counter moves (no lock per span). Reload() and the
// getters may run on any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/sharded_counter.h"
#include "cost/price_book.h"
#include "span/batch.h"

namespace spanvault::cost {

class PriceStage {
 public:
  // Loads `sources` (user tables; the built-in table comes last). Errors name
  // every broken source.
  static Result<std::unique_ptr<PriceStage>> Create(std::vector<std::string> sources);

  // Prices the spans in batch.to_price and empties it; spans without a
  // price are counted as unpriced and stay as they were.
  void Apply(span::Batch& batch);

  // Re-reads every source. On any error the current book stays in force and
  // the error is returned (and remembered for status).
  Status Reload();
  // Loads `sources` instead (a reloaded configuration changed the list); on
  // success they replace the current sources, on error nothing changes.
  Status Reload(std::vector<std::string> sources);

  // Model name → spans seen without a price, most first.
  std::vector<std::pair<std::string, uint64_t>> Unpriced() const;
  uint64_t priced_spans() const { return priced_.Load(); }
  uint64_t unpriced_spans() const { return unpriced_total_.Load(); }
  // {"tables":[...],"models":N,"priced_spans":N,"unpriced_spans":N,"reloads":N,"last_reload_error":"..."}
  std::string StatusJson() const;

 private:
  explicit PriceStage(std::vector<std::string> sources, std::shared_ptr<const PriceBook> book);
  // The cost of one span appended to `cost_json`, or nothing (counted).
  void Price(const span::Batch& batch, const span::PriceInput& span, std::string& cost_json);
  // This thread's reference to the current book (valid until its next call).
  const PriceBook* Current();
  // The counter of spans seen for `model` without a price. Entries are never
  // removed, so the pointer stays valid for this object's life; at most
  // kMaxUnpricedNames names, the rest share "(other)".
  ShardedCounter* UnpricedCounter(std::string_view model);
  void CountUnpriced(ShardedCounter* model_counter);

  mutable std::mutex mu_;  // sources_, book_, last_error_, unpriced_, reloads_
  std::vector<std::string> sources_;
  std::shared_ptr<const PriceBook> book_;
  std::atomic<uint64_t> generation_{1};
  std::string last_error_;
  uint64_t reloads_ = 0;
  std::map<std::string, std::unique_ptr<ShardedCounter>, std::less<>> unpriced_;
  ShardedCounter* no_model_ = nullptr;  // unpriced_[""]: model calls that name no model
  ShardedCounter priced_;               // added to by every I/O thread, once per span
  ShardedCounter unpriced_total_;
};

}  // namespace spanvault::cost
