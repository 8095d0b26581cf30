// ipc/ — one byte budget for everything the listeners hold in memory on its
// way to the store, shared by all of them (config ingest.max_inflight_bytes).
// What each listener does when it is spent:
//   stream    reading pauses (connection by connection, retried shortly);
//   HTTP      503 with Retry-After, before the body is read (every OTLP
//             exporter retries that);
//   datagram  the datagrams read are dropped and counted (budget_drops).
// Nothing already acknowledged is touched: the budget only gates new input.
//
// Threading: every method is thread-safe (relaxed atomics; the bound is
// approximate by at most one request per thread, which is what it is for).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "span/batch.h"

namespace spanvault::ipc {

class InflightBudget {
 public:
  // capacity 0: no bound.
  explicit InflightBudget(size_t capacity = 0) : capacity_(capacity) {}
  // Before any listener runs.
  void SetCapacity(size_t capacity) { capacity_ = capacity; }

  // Takes `n` bytes if they fit (or the budget is unbounded, or nothing is
  // taken at all: one request larger than the whole budget still passes
  // alone). False: nothing taken.
  bool TryAcquire(size_t n) {
    if (capacity_ == 0) {
      in_use_.fetch_add(n, std::memory_order_relaxed);
      return true;
    }
    size_t cur = in_use_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur != 0 && cur + n > capacity_) return false;
      if (in_use_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) return true;
    }
  }
  // Takes `n` bytes whatever the balance (bytes already read must go on).
  void Acquire(size_t n) { in_use_.fetch_add(n, std::memory_order_relaxed); }
  void Release(size_t n) { in_use_.fetch_sub(n, std::memory_order_relaxed); }

  bool Exhausted() const { return capacity_ != 0 && in_use_.load(std::memory_order_relaxed) >= capacity_; }
  size_t capacity() const { return capacity_; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

  // Times the budget turned input away, per transport (stream: read pauses;
  // HTTP: 503 answers; datagrams: datagrams dropped).
  void CountRefusal(span::Transport t, uint64_t n = 1) {
    refusals_[static_cast<size_t>(t)].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t refusals(span::Transport t) const { return refusals_[static_cast<size_t>(t)].load(); }

 private:
  size_t capacity_;
  std::atomic<size_t> in_use_{0};
  std::array<std::atomic<uint64_t>, span::kTransportCount> refusals_{};
};

}  // namespace spanvault::ipc
