#include "ipc/ingest.h"

#include <memory>

namespace spanvault::ipc {

span::Decoder& ThreadDecoder(const span::Limits& limits) {
  thread_local std::unique_ptr<span::Decoder> decoder;
  if (!decoder || decoder->limits().max_payload_bytes != limits.max_payload_bytes ||
      decoder->limits().max_depth != limits.max_depth) {
    decoder = std::make_unique<span::Decoder>(limits);
  }
  return *decoder;
}

void CountRejections(const span::Batch& batch, size_t first_quarantine, TransportCounters& c) {
  for (size_t i = first_quarantine; i < batch.quarantine.size(); ++i) {
    c.rejected_by_kind[static_cast<size_t>(batch.quarantine[i].rejection.kind)].fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace spanvault::ipc
