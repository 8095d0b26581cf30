// process/ — the ingest side of `sample.keep` (docs/processors.md,
// "Sampling"): between decoding and the store, every span is checked against
// the keep conditions of the sample processors the upstreams use, and the
// trace of a span that matches is marked in the shared KeepSet. The
// forwarders, which hold spans back for decision_wait, then find the mark
// whatever span of the trace they decide on. The span itself is not changed.
//
// Threading: Apply() runs on the I/O threads, concurrently; Update() (a
// reload) on any thread: the rules are an immutable snapshot swapped
// atomically.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "process/keep_set.h"
#include "process/processor_config.h"
#include "span/batch.h"

namespace spanvault::process {

class Processor;

class KeepStage {
 public:
  explicit KeepStage(std::shared_ptr<KeepSet> marks);
  ~KeepStage();

  // The rules from the processors in `defined` that `used` names (each once)
  // and that are sample processors with keep conditions. Errors: one does
  // not build (nothing changes then).
  Status Update(const std::vector<ProcessorConfig>& defined, const std::vector<std::string>& used);

  // Marks the traces of the spans of `batch` that match a rule.
  void Apply(const span::Batch& batch) const;

 private:
  struct Rules;
  std::shared_ptr<KeepSet> marks_;
  std::atomic<bool> any_{false};
  std::atomic<std::shared_ptr<const Rules>> rules_;
};

}  // namespace spanvault::process
