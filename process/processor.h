// process/ (internal) — what the processors share: the counters a chain
// keeps and the interface each processor type implements (redact.cc,
// edit.cc, sample.cc), built from its config by MakeProcessor
// (processor_config.cc).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/sharded_counter.h"
#include "process/chain.h"
#include "process/detectors.h"
#include "process/keep_set.h"
#include "process/processor_config.h"
#include "process/span_view.h"

namespace spanvault::process {

struct Counters {
  ShardedCounter spans_in, spans_out, dropped_filter, dropped_sample, traces_kept, traces_dropped;
  ShardedCounter redactions[kDetectorCount];
  ShardedCounter gave_up, fields_dropped, truncated, unreadable;
};

class Processor {
 public:
  virtual ~Processor() = default;
  // Applies this processor to `span`: kUnchanged (out untouched), kChanged
  // (the new span in `out`, replacing what was there) or kDrop. Const and
  // thread-safe; counts in `c`.
  virtual Verdict Apply(const SpanView& span, std::string& out, Counters& c) const = 0;
  // Whether Apply reads span.members() (the chain indexes the span for it
  // first). False: it reads span.text() alone (and drops, counted as
  // unreadable, a span that is not a JSON object). Default: true.
  virtual bool NeedsIndex() const { return true; }
  // Sees a span before any processor of the chain runs (sample: marks the
  // span's trace when a keep condition holds). Default: nothing.
  virtual void Observe(const SpanView& span) const { (void)span; }
  // How long spans must wait before this processor can decide on them
  // (sample with keep conditions: decision_wait). Default: 0.
  virtual std::chrono::milliseconds DecisionWait() const { return std::chrono::milliseconds(0); }
};

// The processor `config` describes, or null with every problem appended to
// `problems` (not prefixed).
// `keep`: where sample processors mark and look up kept traces (null: a set
// of their own).
std::unique_ptr<Processor> MakeProcessor(const ProcessorConfig& config, std::vector<std::string>* problems,
                                         std::shared_ptr<KeepSet> keep = nullptr);

// Builders per type (redact.cc, edit.cc, sample.cc); same contract.
std::unique_ptr<Processor> MakeRedact(const ProcessorConfig& config, std::vector<std::string>* problems);
std::unique_ptr<Processor> MakeFilter(const ProcessorConfig& config, std::vector<std::string>* problems);
std::unique_ptr<Processor> MakeTruncate(const ProcessorConfig& config, std::vector<std::string>* problems);
std::unique_ptr<Processor> MakeSet(const ProcessorConfig& config, std::vector<std::string>* problems);
std::unique_ptr<Processor> MakeSample(const ProcessorConfig& config, std::vector<std::string>* problems,
                                      std::shared_ptr<KeepSet> keep);

// Appends `"key":value` to an object being written (a comma first unless
// `*first`).
void AppendMember(std::string& out, std::string_view raw_key, std::string_view value, bool* first);

}  // namespace spanvault::process
