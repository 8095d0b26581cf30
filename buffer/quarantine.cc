// The quarantine (contract: quarantine.h; the format: store_format.h). The
// entries' JSON is made by internal::QuarantineJson (store_format.cc) and
// written by the writer's group commit (span_queue_writer.cc), which asks
// PlanLocked/ApplyLocked for the ids and the bounds.
#include "buffer/quarantine.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "buffer/span_queue_impl.h"
#include "buffer/store_format.h"

namespace spanvault::buffer {

using internal::DecodeSeq;
using internal::FromRocks;

Status Quarantine::RecoverLocked(uint64_t floor) {
  index_ = internal::QuarantineIndex();
  next_id_ = floor;
  internal::SeqRangeIterator it(q_.db_.get(), q_.quarantine_cf_, floor);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto id = DecodeSeq(it->key());
    if (!id) continue;
    index_.Add(*id, it->key().size() + it->value().size());
    next_id_ = std::max(next_id_, *id + 1);
  }
  if (!it->status().ok()) return Fail(FromRocks("scanning quarantine", it->status()));
  return {};
}

Quarantine::Plan Quarantine::PlanLocked(const std::vector<uint64_t>& bytes) const {
  Plan p;
  p.first_id = next_id_;
  p.front = index_.front_id().value_or(p.first_id);
  p.bounds = index_.PlanAdd(p.first_id, bytes, q_.options_.quarantine_max_entries, q_.options_.quarantine_max_bytes);
  return p;
}

void Quarantine::ApplyLocked(const Plan& plan, const std::vector<uint64_t>& bytes) {
  index_.Apply(plan.bounds, plan.first_id, bytes);
  next_id_ = plan.first_id + bytes.size();
  total_ += bytes.size();
}

uint64_t Quarantine::entries() const {
  std::lock_guard lk(q_.state_mu_);
  return index_.entries();
}

uint64_t Quarantine::total() const {
  std::lock_guard lk(q_.state_mu_);
  return total_;
}

Result<std::vector<QuarantineEntry>> Quarantine::List(size_t limit) const {
  try {
    std::shared_lock db_lock(q_.db_mu_);
    if (!q_.db_) return Fail(Error::Unavailable("span queue is closed"));
    uint64_t lo, hi;
    {
      std::lock_guard lk(q_.state_mu_);
      hi = next_id_;
      lo = index_.front_id().value_or(hi);
    }
    std::vector<QuarantineEntry> out;
    if (lo >= hi || limit == 0) return out;
    internal::SeqRangeIterator it(q_.db_.get(), q_.quarantine_cf_, lo, hi);
    for (it->SeekToLast(); it->Valid() && out.size() < limit; it->Prev()) {
      if (auto id = DecodeSeq(it->key())) out.push_back({*id, it->value().ToString()});
    }
    if (!it->status().ok()) return Fail(FromRocks("listing quarantine", it->status()));
    return out;
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("span queue: listing quarantine: ") + e.what()));
  }
}

}  // namespace spanvault::buffer
