#include "process/ingest_stage.h"

namespace spanvault::process {

Status IngestStage::Update(const std::vector<ProcessorConfig>& defined, const std::vector<std::string>& order) {
  if (order.empty()) {
    any_.store(false);
    chain_.store(nullptr);
    return {};
  }
  for (const std::string& name : order) {
    for (const ProcessorConfig& c : defined) {
      if (c.name == name && c.type == "sample" && !c.keep.empty()) {
        return Fail(Error::Invalid("processor " + name +
                                   ": keep conditions need decision_wait, which only an upstream's processors have: "
                                   "list it under an [[upstream]]'s processors, not the top-level ones"));
      }
    }
  }
  auto chain = Chain::Create(defined, order);
  if (!chain) return Fail(chain.error());
  chain_.store(std::move(*chain));
  any_.store(true);
  return {};
}

uint32_t IngestStage::Apply(span::Batch& batch) const {
  if (!any_.load(std::memory_order_relaxed) || batch.spans.empty()) return 0;
  std::shared_ptr<const Chain> chain = chain_.load();
  if (!chain) return 0;
  std::string data;
  data.reserve(batch.data.size());
  std::vector<span::EncodedSpan> spans;
  spans.reserve(batch.spans.size());
  std::string changed;
  uint32_t dropped = 0;
  for (size_t i = 0; i < batch.spans.size(); ++i) {
    std::string_view span = batch.SpanAt(i);
    Verdict v = chain->Apply(span, changed);
    if (v == Verdict::kDrop) {
      ++dropped;
      continue;
    }
    std::string_view keep = v == Verdict::kChanged ? std::string_view(changed) : span;
    spans.push_back({static_cast<uint32_t>(data.size()), static_cast<uint32_t>(keep.size())});
    data.append(keep);
  }
  batch.data = std::move(data);
  batch.spans = std::move(spans);
  return dropped;
}

}  // namespace spanvault::process
