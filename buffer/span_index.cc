// See span_index.h. Everything here is arithmetic on deques; the invariants
// are: extents are ordered and disjoint, each holds consecutive seqs, the sums
// spans_/bytes_ equal the totals over the extents, and next_ is past the last
// extent.
#include "buffer/span_index.h"

#include <algorithm>

namespace spanvault::buffer::internal {

void SpanIndex::Reset(uint64_t next_seq) {
  extents_.clear();
  next_ = next_seq;
  spans_ = 0;
  bytes_ = 0;
}

void SpanIndex::Add(uint64_t seq, uint64_t bytes, int64_t received_ns) {
  if (seq < next_) return;  // never happens: seqs are handed out in order
  Extent* back = extents_.empty() ? nullptr : &extents_.back();
  if (back != nullptr && back->first_seq + back->count == seq && back->count < kMaxExtentSpans &&
      back->bytes + bytes <= max_extent_bytes_) {
    ++back->count;
    back->bytes += bytes;
    back->oldest_received_ns = std::min(back->oldest_received_ns, received_ns);
    back->newest_received_ns = std::max(back->newest_received_ns, received_ns);
  } else {
    extents_.push_back({seq, 1, bytes, received_ns, received_ns});
  }
  next_ = seq + 1;
  ++spans_;
  bytes_ += bytes;
}

void SpanIndex::SkipTo(uint64_t seq) { next_ = std::max(next_, seq); }

SpanIndex::Removed SpanIndex::TrimBelow(uint64_t seq, std::optional<uint64_t> cut_bytes) {
  Removed r;
  while (!extents_.empty()) {
    Extent& e = extents_.front();
    if (e.first_seq + e.count <= seq) {
      r.spans += e.count;
      r.bytes += e.bytes;
      extents_.pop_front();
      continue;
    }
    if (e.first_seq < seq) {
      uint64_t k = seq - e.first_seq;
      // k < count <= kMaxExtentSpans, so the product cannot overflow for any
      // extent smaller than 2^54 bytes.
      uint64_t b = cut_bytes ? std::min(*cut_bytes, e.bytes) : e.bytes / e.count * k + e.bytes % e.count * k / e.count;
      e.first_seq = seq;
      e.count -= k;
      e.bytes -= b;
      r.spans += k;
      r.bytes += b;
    }
    break;
  }
  spans_ -= r.spans;
  bytes_ -= r.bytes;
  return r;
}

uint64_t SpanIndex::HeadToFit(uint64_t incoming, uint64_t limit) const {
  if (incoming > limit) return next_;
  uint64_t bytes = bytes_;
  for (const Extent& e : extents_) {
    if (bytes + incoming <= limit) return e.first_seq;
    bytes -= e.bytes;
  }
  return next_;
}

SpanIndex::AgePlan SpanIndex::PlanAge(int64_t cutoff_ns) const {
  AgePlan plan{head_seq(), std::nullopt};
  for (const Extent& e : extents_) {
    if (e.newest_received_ns < cutoff_ns) {
      plan.head = e.first_seq + e.count;
      continue;
    }
    if (e.oldest_received_ns < cutoff_ns) plan.straddling = e;
    break;
  }
  if (extents_.empty() || plan.head >= extents_.back().first_seq + extents_.back().count) plan.head = next_;
  return plan;
}

SpanIndex::Removed SpanIndex::Below(uint64_t seq) const {
  Removed r;
  for (const Extent& e : extents_) {
    if (e.first_seq >= seq) break;
    if (e.first_seq + e.count <= seq) {
      r.spans += e.count;
      r.bytes += e.bytes;
      continue;
    }
    uint64_t k = seq - e.first_seq;
    r.spans += k;
    r.bytes += e.bytes / e.count * k + e.bytes % e.count * k / e.count;
  }
  return r;
}

uint64_t SpanIndex::RetentionHead(uint64_t delivered_until, int64_t cutoff_ns, uint64_t max_bytes) const {
  uint64_t head = head_seq();
  if (delivered_until <= head) return head;
  uint64_t bytes = Below(delivered_until).bytes;
  for (const Extent& e : extents_) {
    if (e.first_seq >= delivered_until) break;
    const uint64_t end = std::min(e.first_seq + e.count, delivered_until);
    if (e.newest_received_ns >= cutoff_ns && bytes <= max_bytes) break;
    const uint64_t k = end - e.first_seq;
    bytes -= std::min(bytes, e.bytes / e.count * k + e.bytes % e.count * k / e.count);
    head = end;
  }
  return head;
}

void SpanIndex::SetFrontOldest(int64_t received_ns) {
  if (!extents_.empty()) extents_.front().oldest_received_ns = received_ns;
}

void QuarantineIndex::Add(uint64_t id, uint64_t bytes) {
  entries_.emplace_back(id, bytes);
  bytes_ += bytes;
}

QuarantineIndex::Plan QuarantineIndex::PlanAdd(uint64_t first_new_id, const std::vector<uint64_t>& new_bytes,
                                               uint64_t max_entries, uint64_t max_bytes) const {
  Plan plan;
  uint64_t n = entries_.size() + new_bytes.size();
  uint64_t b = bytes_;
  for (uint64_t x : new_bytes) b += x;
  auto over = [&] { return n > max_entries || b > max_bytes; };
  while (over() && plan.drop_old < entries_.size()) {
    b -= entries_[plan.drop_old].second;
    --n;
    ++plan.drop_old;
  }
  while (over() && plan.drop_new < new_bytes.size()) {
    b -= new_bytes[plan.drop_new];
    --n;
    ++plan.drop_new;
  }
  if (plan.drop_new > 0 || plan.drop_old == entries_.size()) {
    plan.delete_below = first_new_id + plan.drop_new;
  } else {
    plan.delete_below = entries_[plan.drop_old].first;
  }
  return plan;
}

void QuarantineIndex::Apply(const Plan& plan, uint64_t first_new_id, const std::vector<uint64_t>& new_bytes) {
  for (size_t i = 0; i < plan.drop_old && !entries_.empty(); ++i) {
    bytes_ -= entries_.front().second;
    entries_.pop_front();
  }
  for (size_t i = plan.drop_new; i < new_bytes.size(); ++i) Add(first_new_id + i, new_bytes[i]);
}

}  // namespace spanvault::buffer::internal
