// A repeated condition (a refused connection, a bad line from one peer, a
// dropped datagram) is logged at most once per interval per key, with the
// count of events since the previous line, never once per event: a client
// that sends garbage cannot flood the journal.
//
//   static LogLimiter limiter;
//   if (uint64_t n = limiter.Tick("uid:1000 bad control line")) LOG_WARN("...", {{"events", n}});
//
// Thread-safe (one mutex; only refusal paths call it). At most max_keys keys
// are remembered; past that, keys not seen for an interval are forgotten.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace spanvault {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(10), size_t max_keys = 4096)
      : interval_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count()), max_keys_(max_keys) {}

  // Counts one event for `key`. Returns the events since the last line
  // (this one included) when a line is due, else 0. `now_ns`: a steady clock
  // in nanoseconds (tests pass their own).
  uint64_t Tick(std::string_view key, int64_t now_ns = SteadyNowNs()) {
    std::lock_guard lk(mu_);
    auto it = keys_.find(std::string(key));
    if (it == keys_.end()) {
      if (keys_.size() >= max_keys_) Prune(now_ns);
      if (keys_.size() >= max_keys_) return 0;  // still full: counted nowhere, logged by nobody
      keys_.emplace(std::string(key), Entry{now_ns, 0});
      return 1;
    }
    Entry& e = it->second;
    ++e.pending;
    if (now_ns - e.last_ns < interval_ns_) return 0;
    uint64_t n = e.pending;
    e.pending = 0;
    e.last_ns = now_ns;
    return n;
  }

  static int64_t SteadyNowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  struct Entry {
    int64_t last_ns;
    uint64_t pending;
  };
  void Prune(int64_t now_ns) {
    std::erase_if(keys_, [&](const auto& kv) { return now_ns - kv.second.last_ns >= interval_ns_; });
  }

  std::mutex mu_;
  int64_t interval_ns_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> keys_;
};

}  // namespace spanvault
