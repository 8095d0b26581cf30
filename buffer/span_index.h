// buffer/ internal — the in-memory summaries of what the store holds, so that
// GetStats() and the bounds never scan RocksDB. No I/O; not thread-safe (the
// owner, SpanQueue, guards them with its state mutex).
//
// SpanIndex: the buffered seqs [head, next) as a deque of extents, each a run
// of consecutive seqs with its byte total and receive-time range. An extent
// grows until it holds kMaxExtentSpans spans or max_extent_bytes bytes, so the
// deque stays short (a few thousand entries for a full 1 GiB store) and
// dropping "the oldest until it fits" works on whole extents. Removing part of
// an extent (an Ack in the middle of it) prorates its bytes unless the caller
// knows the exact figure; an extent that empties takes its remaining bytes
// with it, so bytes() is exact again whenever the store is empty.
//
// QuarantineIndex: (id, bytes) of every quarantine entry, oldest first, for
// the entry and byte bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace spanvault::buffer::internal {

struct Extent {
  uint64_t first_seq = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;
  int64_t oldest_received_ns = 0;
  int64_t newest_received_ns = 0;
};

class SpanIndex {
 public:
  static constexpr uint64_t kMaxExtentSpans = 1024;

  explicit SpanIndex(uint64_t max_extent_bytes = UINT64_MAX) : max_extent_bytes_(max_extent_bytes) {}

  // Empties the index; the next span gets `next_seq`.
  void Reset(uint64_t next_seq);
  // Records span `seq` (>= next_seq(); a larger seq leaves a gap).
  void Add(uint64_t seq, uint64_t bytes, int64_t received_ns);
  // Raises next_seq() to `seq` (no-op when already there or past it).
  void SkipTo(uint64_t seq);

  struct Removed {
    uint64_t spans = 0;
    uint64_t bytes = 0;
  };
  // Forgets every seq < `seq`. `cut_bytes`, when known, is the exact size of
  // the part removed from an extent that `seq` cuts in two (else prorated).
  Removed TrimBelow(uint64_t seq, std::optional<uint64_t> cut_bytes = std::nullopt);

  // The smallest extent boundary h such that, after TrimBelow(h),
  // bytes() + incoming <= limit; next_seq() when even an empty store is too
  // small.
  uint64_t HeadToFit(uint64_t incoming, uint64_t limit) const;

  // For max_age: every extent below `head` is entirely older than `cutoff`;
  // `straddling`, when set, is the extent at `head` that holds spans on both
  // sides of it (the caller scans it to find the exact cut).
  struct AgePlan {
    uint64_t head = 0;
    std::optional<Extent> straddling;
  };
  AgePlan PlanAge(int64_t cutoff_ns) const;
  // Local retention: the head that keeps of the delivered seqs [head,
  // delivered_until) only the extents not entirely older than `cutoff_ns`,
  // and, oldest first, no more than `max_bytes` of them. Never above
  // `delivered_until` (nor below head_seq()).
  uint64_t RetentionHead(uint64_t delivered_until, int64_t cutoff_ns, uint64_t max_bytes) const;
  // The spans and (prorated) bytes of the seqs below `seq`.
  Removed Below(uint64_t seq) const;

  // Corrects the first extent's oldest receive time after an exact scan.
  void SetFrontOldest(int64_t received_ns);

  uint64_t head_seq() const { return extents_.empty() ? next_ : extents_.front().first_seq; }
  uint64_t next_seq() const { return next_; }
  uint64_t spans() const { return spans_; }
  uint64_t bytes() const { return bytes_; }
  size_t extents() const { return extents_.size(); }
  // Of the first extent: the oldest span is almost always there (0 when empty).
  int64_t oldest_received_ns() const { return extents_.empty() ? 0 : extents_.front().oldest_received_ns; }

 private:
  uint64_t max_extent_bytes_;
  std::deque<Extent> extents_;
  uint64_t next_ = 1;
  uint64_t spans_ = 0;
  uint64_t bytes_ = 0;
};

class QuarantineIndex {
 public:
  void Add(uint64_t id, uint64_t bytes);

  // What adding entries of `new_bytes` (ids first_new_id, first_new_id+1, ...)
  // does under the bounds: the `drop_old` oldest existing entries and the
  // first `drop_new` new ones go; every id < delete_below is then gone.
  struct Plan {
    size_t drop_old = 0;
    size_t drop_new = 0;
    uint64_t delete_below = 0;  // meaningful when drop_old + drop_new > 0
  };
  Plan PlanAdd(uint64_t first_new_id, const std::vector<uint64_t>& new_bytes, uint64_t max_entries,
               uint64_t max_bytes) const;
  void Apply(const Plan& plan, uint64_t first_new_id, const std::vector<uint64_t>& new_bytes);

  uint64_t entries() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }
  // Id of the oldest entry; nullopt when empty.
  std::optional<uint64_t> front_id() const {
    return entries_.empty() ? std::nullopt : std::optional<uint64_t>(entries_.front().first);
  }

 private:
  std::deque<std::pair<uint64_t, uint64_t>> entries_;  // (id, bytes)
  uint64_t bytes_ = 0;
};

}  // namespace spanvault::buffer::internal
