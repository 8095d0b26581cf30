// The cost engine as the decoder sees it: an Enricher that prices every
// span with a model and usage from the current PriceBook, counts the spans
// it cannot price per model name, and swaps in a new book on reload without
// stopping ingest.
//
// Threading: Enrich() runs on the I/O threads, concurrently. The book is an
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
#include "span/decoder.h"

namespace spanvault::daemon {

class Pricing : public span::Enricher {
 public:
  // Loads `sources` (user tables; the built-in table comes last). Errors name
  // every broken source.
  static Result<std::unique_ptr<Pricing>> Create(std::vector<std::string> sources);

  void Enrich(const span::SpanView& span, std::string& cost_json) override;

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
  explicit Pricing(std::vector<std::string> sources, std::shared_ptr<const cost::PriceBook> book);
  // This thread's reference to the current book (valid until its next call).
  const cost::PriceBook* Current();
  // The counter of spans seen for `model` without a price. Entries are never
  // removed, so the pointer stays valid for this object's life; at most
  // kMaxUnpricedNames names, the rest share "(other)".
  ShardedCounter* UnpricedCounter(std::string_view model);
  void CountUnpriced(ShardedCounter* model_counter);

  mutable std::mutex mu_;  // sources_, book_, last_error_, unpriced_, reloads_
  std::vector<std::string> sources_;
  std::shared_ptr<const cost::PriceBook> book_;
  std::atomic<uint64_t> generation_{1};
  std::string last_error_;
  uint64_t reloads_ = 0;
  std::map<std::string, std::unique_ptr<ShardedCounter>, std::less<>> unpriced_;
  ShardedCounter* no_model_ = nullptr;  // unpriced_[""]: model calls that name no model
  ShardedCounter priced_;               // added to by every I/O thread, once per span
  ShardedCounter unpriced_total_;
};

}  // namespace spanvault::daemon
