// A counter that several threads add to on the hot path and that is read
// rarely (status, metrics). One atomic shared by the I/O threads was among
// the hottest instructions of the daemon at full ingest: every `lock add`
// waited for the cache line the other thread had just written. Here each
// thread adds to its own cache line (threads are spread over the shards in
// the order they first add), and a read sums the shards.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace spanvault {

class ShardedCounter {
 public:
  void Add(uint64_t n = 1) { shards_[ThreadShard()].v.fetch_add(n, std::memory_order_relaxed); }

  // The sum of every add that happened before the call (relaxed: adds racing
  // with the read may or may not be in it).
  uint64_t Load() const {
    uint64_t sum = 0;
    for (const Shard& s : shards_) sum += s.v.load(std::memory_order_relaxed);
    return sum;
  }

  static constexpr size_t kShards = 8;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> v{0};
  };

  static size_t ThreadShard() {
    static std::atomic<size_t> next{0};
    thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shard;
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace spanvault
