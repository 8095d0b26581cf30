// buffer/ — the quarantine: what ingest refused (payloads that were not JSON,
// spans that failed validation, payloads refused by a bound), kept with the
// reason and an excerpt for `spanvault quarantine` (docs/durability.md).
//
// Where: the main database's "quarantine" column family (store_format.h),
// ids from 1 up, never reused ("quarantine_head" is the floor below which
// every id was deleted). Entries come with the span::Batch they were refused
// from and are written by the queue's writer thread in the same group commit
// as its spans (SpanQueue::Append); this class owns the in-memory index of
// what is stored, plans and applies the bounds (Options::quarantine_max_entries
// and quarantine_max_bytes: the oldest entries go, one DeleteRange plus the
// new floor) and lists the entries.
//
// Ownership: one per SpanQueue, made and owned by it (SpanQueue::quarantine());
// it lives as long as the queue.
// Thread-safety: List() and the getters from any thread. The index is guarded
// by the queue's state mutex (span_queue_impl.h); the *Locked members are the
// queue's, called holding it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "buffer/span_index.h"
#include "buffer/span_queue.h"
#include "common/error.h"

namespace spanvault::buffer {

struct QuarantineEntry {
  uint64_t id = 0;
  std::string json;  // the stored JSON object (store_format.h)
};

class Quarantine {
 public:
  explicit Quarantine(SpanQueue::Impl& queue) : q_(queue) {}
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;

  // Newest first, at most `limit` entries. Reads the disk: not for an Asio
  // I/O thread. Errors: kUnavailable after Close(), kIo.
  Result<std::vector<QuarantineEntry>> List(size_t limit) const;
  // Entries stored now; entries written since Open. In memory.
  uint64_t entries() const;
  uint64_t total() const;

  // ---- the queue's, holding its state mutex
  // Open: rebuilds the index from the column family, from `floor` on.
  Status RecoverLocked(uint64_t floor);
  // What storing entries of `bytes` (logical sizes) does under the bounds.
  struct Plan {
    uint64_t first_id = 0;  // the first new entry's id
    uint64_t front = 0;     // the oldest stored id (first_id when empty)
    internal::QuarantineIndex::Plan bounds;
  };
  Plan PlanLocked(const std::vector<uint64_t>& bytes) const;
  // After the group commit that wrote them (and the deletes of `plan`).
  void ApplyLocked(const Plan& plan, const std::vector<uint64_t>& bytes);
  uint64_t entries_locked() const { return index_.entries(); }
  uint64_t total_locked() const { return total_; }

 private:
  SpanQueue::Impl& q_;
  internal::QuarantineIndex index_;
  uint64_t next_id_ = 1;
  uint64_t total_ = 0;  // entries written since Open
};

}  // namespace spanvault::buffer
