#include "observe/rates.h"

namespace spanvault::observe {

void CounterWindow::Add(int64_t t_ns, uint64_t value) {
  if (!samples_.empty() && (value < samples_.back().second || t_ns <= samples_.back().first)) samples_.clear();
  samples_.emplace_back(t_ns, value);
  while (samples_.size() > capacity_) samples_.pop_front();
}

double CounterWindow::WindowSeconds() const {
  if (samples_.size() < 2) return 0;
  return static_cast<double>(samples_.back().first - samples_.front().first) / 1e9;
}

double CounterWindow::PerSecond() const {
  double seconds = WindowSeconds();
  if (seconds <= 0) return 0;
  return static_cast<double>(samples_.back().second - samples_.front().second) / seconds;
}

void RateSampler::Record(int64_t t_ns, const std::array<uint64_t, span::kTransportCount>& accepted_spans,
                         const std::vector<UpstreamSample>& upstreams) {
  for (size_t i = 0; i < transports_.size(); ++i) transports_[i].Add(t_ns, accepted_spans[i]);
  std::map<std::string, Upstream, std::less<>> next;
  for (const UpstreamSample& u : upstreams) {
    Upstream up;
    if (auto it = upstreams_.find(u.name); it != upstreams_.end() && it->second.instance == u.instance) {
      up = std::move(it->second);
    }
    up.instance = u.instance;
    up.window.Add(t_ns, u.delivered_spans);
    next[u.name] = std::move(up);
  }
  upstreams_ = std::move(next);
}

const CounterWindow* RateSampler::upstream(const std::string& name, uint64_t instance) const {
  auto it = upstreams_.find(name);
  return it == upstreams_.end() || it->second.instance != instance ? nullptr : &it->second.window;
}

}  // namespace spanvault::observe
