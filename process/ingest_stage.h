// process/ — top-level `processors = [...]` (docs/processors.md): a chain
// applied at ingest, between pricing and the store, so that what it removes
// is never written to disk (every upstream and the local views get the
// processed span). Spans it drops count as accepted for the sender (they were
// received and handled by policy), are not stored, and are counted here.
//
// Threading: Apply() runs on the I/O threads, concurrently; Update() (start,
// reload) on any thread: the chain is an immutable snapshot swapped
// atomically, so a batch is processed wholly by the old or the new rules.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "process/chain.h"
#include "span/batch.h"

namespace spanvault::process {

class IngestStage {
 public:
  // The chain of `order` (names in `defined`); an empty order: none. Errors:
  // a name not defined, a processor that does not build, a sample processor
  // with keep conditions (its decision_wait needs a forwarder's hold: only
  // an upstream's processors can have it). Nothing changes on error.
  Status Update(const std::vector<ProcessorConfig>& defined, const std::vector<std::string>& order);

  // Runs the chain over every span of `batch` (after pricing: to_price is
  // empty), rewriting its data. Returns the number of spans dropped.
  uint32_t Apply(span::Batch& batch) const;

  // The chain in force (null: none), for its names and counters.
  std::shared_ptr<const Chain> chain() const { return chain_.load(); }

 private:
  std::atomic<bool> any_{false};
  std::atomic<std::shared_ptr<const Chain>> chain_;
};

}  // namespace spanvault::process
