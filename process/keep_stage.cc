#include "process/keep_stage.h"

#include <algorithm>

#include "process/processor.h"

namespace spanvault::process {

struct KeepStage::Rules {
  std::vector<std::unique_ptr<Processor>> samplers;
};

KeepStage::KeepStage(std::shared_ptr<KeepSet> marks) : marks_(std::move(marks)) {}
KeepStage::~KeepStage() = default;

Status KeepStage::Update(const std::vector<ProcessorConfig>& defined, const std::vector<std::string>& used) {
  auto rules = std::make_shared<Rules>();
  std::vector<std::string> seen;
  for (const std::string& name : used) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    for (const ProcessorConfig& c : defined) {
      if (c.name != name || c.type != "sample" || c.keep.empty()) continue;
      std::vector<std::string> problems;
      auto p = MakeProcessor(c, &problems, marks_);
      if (!p) return Fail(Error::Invalid("processor " + name + ": " + (problems.empty() ? "invalid" : problems[0])));
      rules->samplers.push_back(std::move(p));
    }
  }
  const bool any = !rules->samplers.empty();
  rules_.store(std::move(rules));
  any_.store(any);
  return {};
}

void KeepStage::Apply(const span::Batch& batch) const {
  if (!any_.load(std::memory_order_relaxed)) return;
  std::shared_ptr<const Rules> rules = rules_.load();
  if (!rules) return;
  thread_local SpanView view;
  for (size_t i = 0; i < batch.spans.size(); ++i) {
    if (!view.Reset(batch.SpanAt(i))) continue;
    for (const auto& p : rules->samplers) p->Observe(view);
  }
}

}  // namespace spanvault::process
