// process/ — a chain of processors (docs/processors.md): the ones an upstream
// lists in `processors = [...]`, applied in order to each span of a batch
// when the forwarder prepares it for that upstream (the stored span is not
// changed). Built once per configuration; a reload builds a new one.
//
// A span the chain cannot read (not a JSON object) is dropped and counted as
// unreadable: a redacting chain never lets through what it could not check.
//
// Threading: Apply() is const and runs on any number of threads at once
// (the forwarder's encoding threads); the counters are sharded. Stats() from
// any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "process/processor_config.h"

namespace spanvault::process {

enum class Verdict { kUnchanged, kChanged, kDrop };

// What a chain did since it was built.
struct ChainStats {
  uint64_t spans_in = 0;
  uint64_t spans_out = 0;       // kept (changed or not)
  uint64_t dropped_filter = 0;  // by a filter's condition
  uint64_t dropped_sample = 0;  // by a sample processor
  // Traces, counted by their root span (no parent): kept / dropped by sampling.
  uint64_t traces_kept = 0;
  uint64_t traces_dropped = 0;
  // Values redacted, by detector: email, phone, credit_card, api_key, ip_address, pattern.
  std::vector<std::pair<std::string, uint64_t>> redactions;
  uint64_t redact_gave_up = 0;  // fields masked whole: over max_scan_bytes or unreadable
  uint64_t fields_dropped = 0;  // by drop_field, filter.fields, set.delete
  uint64_t truncated = 0;       // fields cut by truncate
  uint64_t unreadable = 0;      // spans dropped because they were not a JSON object
};

class Processor;
class KeepSet;
struct Counters;

class Chain {
 public:
  // The processors in `order`, each found by name in `defined`. Errors: an
  // unknown name, or a processor that does not build (its Validate()).
  // `keep`: the daemon's record of kept traces (keep_set.h), shared with
  // the ingest stage (keep_stage.h); null: one of the chain's own.
  static Result<std::shared_ptr<const Chain>> Create(const std::vector<ProcessorConfig>& defined,
                                                     const std::vector<std::string>& order,
                                                     std::shared_ptr<KeepSet> keep = nullptr);
  ~Chain();

  // Marks the span's trace for each sample processor whose keep condition
  // holds for it (as stored, before any processor ran). The forwarder calls
  // it for every span of a batch before Apply, so that a trace's spans read
  // together share one decision even without the ingest stage (after a
  // restart).
  void Observe(std::string_view span) const;
  // How old (by receive time) a span must be before the chain may decide on
  // it: the longest decision_wait of its sample processors with keep
  // conditions; 0 when none.
  std::chrono::milliseconds DecisionWait() const { return decision_wait_; }

  // Runs the chain on one span (canonical JSON). kUnchanged: send `span` as
  // it is; kChanged: send `out`; kDrop: do not send it.
  Verdict Apply(std::string_view span, std::string& out) const;

  ChainStats Stats() const;
  const std::vector<std::string>& names() const { return names_; }
  bool empty() const { return processors_.empty(); }

 private:
  Chain();
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Processor>> processors_;
  std::unique_ptr<Counters> counters_;
  std::chrono::milliseconds decision_wait_{0};
  bool observes_ = false;
};

}  // namespace spanvault::process
