#include "process/keep_set.h"

#include <algorithm>
#include <functional>

namespace spanvault::process {
namespace {

std::string Key(std::string_view processor, std::string_view trace_id) {
  std::string k;
  k.reserve(processor.size() + 1 + trace_id.size());
  k.append(processor);
  k.push_back('\0');
  k.append(trace_id);
  return k;
}

}  // namespace

KeepSet::KeepSet(size_t max_entries) : max_per_shard_(std::max<size_t>(1, max_entries / kShards)) {}

KeepSet::Shard& KeepSet::ShardOf(const std::string& key) const {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

void KeepSet::Add(std::string_view processor, std::string_view trace_id, int64_t expires_ns) {
  std::string key = Key(processor, trace_id);
  Shard& s = ShardOf(key);
  std::lock_guard lk(s.mu);
  auto [it, added] = s.expiry.try_emplace(key, expires_ns);
  if (!added) {
    if (expires_ns <= it->second) return;
    it->second = expires_ns;  // a later entry in `order` carries the new time
  }
  s.order.emplace_back(expires_ns, std::move(key));
  // Oldest first while over the bound. An entry of `order` older than its
  // key's mark (the mark was extended since) only leaves `order`.
  while (!s.order.empty() && (s.expiry.size() > max_per_shard_ || s.order.size() > 2 * max_per_shard_)) {
    auto& [when, k] = s.order.front();
    auto e = s.expiry.find(k);
    if (e != s.expiry.end() && e->second <= when) {
      s.expiry.erase(e);
      evicted_.fetch_add(1, std::memory_order_relaxed);
    }
    s.order.pop_front();
  }
}

bool KeepSet::Contains(std::string_view processor, std::string_view trace_id, int64_t now_ns) const {
  std::string key = Key(processor, trace_id);
  Shard& s = ShardOf(key);
  std::lock_guard lk(s.mu);
  // Drop a few expired marks on the way (reads happen far more than adds).
  for (int n = 0; n < 4 && !s.order.empty() && s.order.front().first < now_ns; ++n) {
    auto e = s.expiry.find(s.order.front().second);
    if (e != s.expiry.end() && e->second <= s.order.front().first) s.expiry.erase(e);
    s.order.pop_front();
  }
  auto it = s.expiry.find(key);
  return it != s.expiry.end() && it->second >= now_ns;
}

uint64_t KeepSet::size() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lk(s.mu);
    n += s.expiry.size();
  }
  return n;
}

}  // namespace spanvault::process
