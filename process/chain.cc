#include "process/chain.h"

#include <algorithm>

#include "process/processor.h"

namespace spanvault::process {

Chain::Chain() : counters_(std::make_unique<Counters>()) {}
Chain::~Chain() = default;

Result<std::shared_ptr<const Chain>> Chain::Create(const std::vector<ProcessorConfig>& defined,
                                                   const std::vector<std::string>& order,
                                                   std::shared_ptr<KeepSet> keep) {
  std::shared_ptr<Chain> chain(new Chain());
  if (!keep) keep = std::make_shared<KeepSet>();
  for (const std::string& name : order) {
    const ProcessorConfig* config = nullptr;
    for (const auto& c : defined) {
      if (c.name == name) config = &c;
    }
    if (config == nullptr) return Fail(Error::Invalid("processor \"" + name + "\" is not defined"));
    std::vector<std::string> problems;
    auto p = MakeProcessor(*config, &problems, keep);
    if (!p) return Fail(Error::Invalid("processor " + name + ": " + (problems.empty() ? "invalid" : problems.front())));
    chain->names_.push_back(name);
    if (p->DecisionWait().count() > 0) {
      chain->observes_ = true;
      chain->decision_wait_ = std::max(chain->decision_wait_, p->DecisionWait());
    }
    chain->processors_.push_back(std::move(p));
  }
  return std::shared_ptr<const Chain>(std::move(chain));
}

void Chain::Observe(std::string_view span) const {
  if (!observes_) return;
  thread_local SpanView view;
  if (!view.Reset(span)) return;
  for (const auto& p : processors_) p->Observe(view);
}

Verdict Chain::Apply(std::string_view span, std::string& out) const {
  Counters& c = *counters_;
  c.spans_in.Add();
  // Two buffers in turn: a processor reads the span the previous one wrote.
  std::string a, b;
  std::string* current = nullptr;
  // One view per thread: its member index keeps its capacity (no
  // allocation per span). Apply never re-enters on a thread.
  thread_local SpanView view;
  view.SetText(span);
  bool indexed = false;
  for (const auto& p : processors_) {
    // Indexed only for a processor that reads the members, once per text.
    if (p->NeedsIndex() && !indexed) {
      if (!view.Reset(view.text())) {
        c.unreadable.Add();
        return Verdict::kDrop;
      }
      indexed = true;
    }
    std::string& next = current == &a ? b : a;
    Verdict v = p->Apply(view, next, c);
    if (v == Verdict::kDrop) return Verdict::kDrop;
    if (v == Verdict::kChanged) {
      current = &next;
      view.SetText(*current);
      indexed = false;
    }
  }
  c.spans_out.Add();
  if (current == nullptr) return Verdict::kUnchanged;
  out = std::move(*current);
  return Verdict::kChanged;
}

ChainStats Chain::Stats() const {
  const Counters& c = *counters_;
  ChainStats s;
  s.spans_in = c.spans_in.Load();
  s.spans_out = c.spans_out.Load();
  s.dropped_filter = c.dropped_filter.Load();
  s.dropped_sample = c.dropped_sample.Load();
  s.traces_kept = c.traces_kept.Load();
  s.traces_dropped = c.traces_dropped.Load();
  for (int k = 0; k < kDetectorCount; ++k) {
    s.redactions.emplace_back(std::string(DetectorName(static_cast<Detector>(k))), c.redactions[k].Load());
  }
  s.redact_gave_up = c.gave_up.Load();
  s.fields_dropped = c.fields_dropped.Load();
  s.truncated = c.truncated.Load();
  s.unreadable = c.unreadable.Load();
  return s;
}

}  // namespace spanvault::process
