// process/ — the traces that a sample processor's `keep` conditions matched
// (docs/processors.md, "Sampling"): marked when a matching span is seen (at
// ingest by KeepStage, and again when a forwarder reads the batch), read by
// the sample processor when it decides. A mark lasts kKeepRetention past its
// processor's decision_wait; at most `max_entries` marks are held, the
// oldest going first when full (counted: their trace's later spans follow
// the rate alone).
//
// Threading: every call may run on any thread at once (16 locked shards).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace spanvault::process {

// How long a mark outlives its processor's decision_wait.
inline constexpr std::chrono::minutes kKeepRetention{10};

class KeepSet {
 public:
  // Default: 262144 marks (about 40 MiB at most).
  explicit KeepSet(size_t max_entries = 1u << 18);

  // Marks `trace_id` kept for `processor` until `expires_ns` (wall clock).
  void Add(std::string_view processor, std::string_view trace_id, int64_t expires_ns);
  bool Contains(std::string_view processor, std::string_view trace_id, int64_t now_ns) const;

  uint64_t size() const;
  uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, int64_t> expiry;
    std::deque<std::pair<int64_t, std::string>> order;  // insertion order, for expiry and eviction
  };
  Shard& ShardOf(const std::string& key) const;

  size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> evicted_{0};
};

}  // namespace spanvault::process
