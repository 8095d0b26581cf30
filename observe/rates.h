// observe/ — intake and delivery rates over the last minute, for `spanvault
// status`. The daemon samples cumulative counters once a second (accepted
// spans per transport, delivered spans per upstream) and keeps the last 61
// samples of each; a rate is the growth between the oldest and the newest
// sample kept, over the time between them:
//
//   samples   s0        s1        ...       s59       s60      (61 kept, 1 s apart)
//   window    |<----------------- 60 s ------------------>|
//   rate    = (value(s60) - value(s0)) / (t(s60) - t(s0))
//
// With less than a minute of samples the window is what there is (0 and a
// rate of 0 with a single sample). A counter that goes down, or an upstream
// whose forwarder was replaced (reload), starts its window again.
//
// No I/O and no clock: the caller passes the sample times (steady clock).
// Threading: not thread-safe; the daemon guards its sampler with a mutex.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "span/batch.h"

namespace spanvault::observe {

// Samples kept per counter: 61 samples 1 s apart span 60 s.
inline constexpr size_t kRateSamples = 61;

// The recent samples of one cumulative counter.
class CounterWindow {
 public:
  explicit CounterWindow(size_t capacity = kRateSamples) : capacity_(capacity < 2 ? 2 : capacity) {}

  // Records `value` at `t_ns` (monotonic, increasing). A value below the
  // previous one means the counter restarted: the window starts again here.
  void Add(int64_t t_ns, uint64_t value);
  void Clear() { samples_.clear(); }

  // Growth per second over the window; 0 with fewer than two samples.
  double PerSecond() const;
  // Seconds between the oldest and the newest sample kept.
  double WindowSeconds() const;

 private:
  size_t capacity_;
  std::deque<std::pair<int64_t, uint64_t>> samples_;  // (t_ns, value), oldest first
};

// The daemon's windows: one per transport, one per upstream (by name).
class RateSampler {
 public:
  struct UpstreamSample {
    std::string name;
    uint64_t instance = 0;  // changes when the upstream's forwarder is replaced
    uint64_t delivered_spans = 0;
  };

  // One sample of every counter at `t_ns`. Upstreams missing from
  // `upstreams` are forgotten; one whose instance changed starts again.
  void Record(int64_t t_ns, const std::array<uint64_t, span::kTransportCount>& accepted_spans,
              const std::vector<UpstreamSample>& upstreams);

  const CounterWindow& transport(span::Transport t) const { return transports_[static_cast<size_t>(t)]; }
  // nullptr for an upstream whose forwarder `instance` was not sampled yet.
  const CounterWindow* upstream(const std::string& name, uint64_t instance) const;

 private:
  struct Upstream {
    uint64_t instance = 0;
    CounterWindow window;
  };
  std::array<CounterWindow, span::kTransportCount> transports_;
  std::map<std::string, Upstream, std::less<>> upstreams_;
};

}  // namespace spanvault::observe
