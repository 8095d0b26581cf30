// upstream/ internal — PendingTimes: the receive times of the spans a
// forwarder has read and not yet acknowledged, so that its stats can name the
// oldest pending span's receive time without reading the store (GetStats runs
// on Asio I/O threads: $status, /metrics).
//
// What it holds: per batch read, in seq order, each span's (seq, received_ns),
// from OnRead until the persisted cursor passes the batch (OnAcked): 16 bytes
// per span read and not yet acknowledged, beside the spans' JSON the
// forwarder holds anyway while they are in flight. And the first time the
// forwarder saw spans at its read position that it had not read yet
// (SawUnread), which stands for their receive time until a read tells it
// (they were received no later than that).
//
// Oldest(from): the receive time of the first span with seq >= from (from is
// max(persisted cursor, the buffer's head): the oldest span this upstream
// still needs), as a read of one span at `from` would give it; the unread
// sighting when none read is at or above `from`; 0 when neither is known.
//
// Errors: none. Thread-safety: none of its own; the forwarder calls it under
// its stats_mu (writes on its strand, Oldest from any thread). O(batches) per
// call at most; batches in flight are bounded by the forwarder.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "buffer/span_queue.h"

namespace spanvault::upstream::forwarder_internal {

class PendingTimes {
 public:
  // A batch read from the queue, its spans [first entry, end) in seq order
  // (end: one past its last seq). An empty batch is ignored.
  void OnRead(const buffer::RecordBatch& batch) {
    if (batch.empty()) return;
    Batch b;
    b.end = batch.entries.back().seq + 1;
    b.spans.reserve(batch.size());
    for (const auto& e : batch.entries) b.spans.emplace_back(e.seq, e.received_ns);
    batches_.push_back(std::move(b));
  }

  // Seqs [read_pos, next) are in the queue and not read yet, seen at `now_ns`
  // (wall clock, as received_ns). An earlier sighting still standing is kept.
  void SawUnread(uint64_t read_pos, uint64_t next, int64_t now_ns) {
    if (unread_ns_ != 0 || next <= read_pos) return;
    unread_end_ = next;
    unread_ns_ = now_ns;
  }

  // The read position moved to `read_pos`: a sighting whose spans are all
  // read now is answered (the batches tell their times); one with spans
  // still unread stands.
  void OnReadPosition(uint64_t read_pos) {
    if (read_pos >= unread_end_) unread_ns_ = 0;
  }

  // The cursor is persisted at `acked`: batches below it are forgotten.
  void OnAcked(uint64_t acked) {
    while (!batches_.empty() && batches_.front().end <= acked) batches_.pop_front();
  }

  int64_t Oldest(uint64_t from) const {
    for (const Batch& b : batches_) {
      if (b.end <= from) continue;
      auto it = std::lower_bound(b.spans.begin(), b.spans.end(), from,
                                 [](const std::pair<uint64_t, int64_t>& s, uint64_t seq) { return s.first < seq; });
      if (it != b.spans.end()) return it->second;
    }
    return unread_ns_;
  }

 private:
  struct Batch {
    uint64_t end = 0;
    std::vector<std::pair<uint64_t, int64_t>> spans;  // (seq, received_ns)
  };
  std::deque<Batch> batches_;
  uint64_t unread_end_ = 0;  // the sighting covers seqs below this
  int64_t unread_ns_ = 0;    // 0: no sighting standing
};

}  // namespace spanvault::upstream::forwarder_internal
