// What the daemon shows of itself: the status document (`spanvault status`,
// `$status`), GET /metrics, and the rate windows sampled once a second.
#include <chrono>
#include <nlohmann/json.hpp>

#include "daemon/daemon_impl.h"
#include "observe/prometheus.h"
#include "observe/status.h"

namespace spanvault::daemon {
namespace {

// One sample of the rate windows: accepted spans per transport, delivered
// spans per upstream.
void SampleRates(Daemon::Impl& d) {
  std::array<uint64_t, span::kTransportCount> accepted{};
  for (size_t i = 0; i < accepted.size(); ++i) accepted[i] = d.counters.transport[i].spans_accepted.load();
  std::vector<observe::RateSampler::UpstreamSample> upstreams;
  {
    std::shared_lock lk(d.forwarders_mu);
    for (const auto& f : d.forwarders) {
      upstreams.push_back({f.forwarder->name(), f.instance, f.forwarder->DeliveredSpans()});
    }
  }
  int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::lock_guard lk(d.rates_mu);
  d.rates.Record(now, accepted, upstreams);
}

// Every second on an I/O thread until Stop() clears `sampling`; ioc.stop()
// abandons the last wait.
void ScheduleSample(Daemon::Impl& d) {
  auto now = std::chrono::steady_clock::now();
  d.next_sample += std::chrono::seconds(1);
  if (d.next_sample < now) d.next_sample = now + std::chrono::seconds(1);  // fell behind: skip, do not burst
  d.rate_timer->expires_at(d.next_sample);
  d.rate_timer->async_wait([&d](const boost::system::error_code& ec) {
    if (ec || !d.sampling.load()) return;
    SampleRates(d);
    ScheduleSample(d);
  });
}

}  // namespace

void StartRateSampling(Daemon::Impl& d) {
  // The first sample of the rate windows, then one a second.
  SampleRates(d);
  d.rate_timer.emplace(d.ioc);
  d.next_sample = std::chrono::steady_clock::now();
  d.sampling = true;
  ScheduleSample(d);
}

std::string Daemon::StatusJson() const {
  nlohmann::json j = nlohmann::json::parse(observe::BuildStatusJson(
      *impl_->queue, impl_->counters, impl_->config.buffer, impl_->config.state_dir, impl_->started_ns));
  j["prices"] = nlohmann::json::parse(impl_->pricing->StatusJson());
  if (auto chain = impl_->ingest_processing->chain()) {
    j["ingest_processing"] = observe::ProcessingJson(chain->names(), chain->Stats());
  }
  {
    std::lock_guard lk(impl_->salvage_mu);
    if (!impl_->salvages.empty()) j["buffer"]["salvage"] = impl_->salvages.back()->ToJson();
  }
  std::vector<std::pair<upstream::ForwarderStats, uint64_t>> forwarders;  // with their instance
  {
    std::shared_lock lk(impl_->forwarders_mu);
    for (const auto& f : impl_->forwarders) forwarders.emplace_back(f.forwarder->GetStats(), f.instance);
  }
  // Rates over the last minute (or since start), from the 1 s samples. A
  // forwarder not sampled yet (just started by a reload) has none yet.
  nlohmann::json ups = nlohmann::json::array();
  std::lock_guard lk(impl_->rates_mu);
  j["rate_window_seconds"] = impl_->rates.transport(span::Transport::kUnixStream).WindowSeconds();
  for (int i = 0; i < span::kTransportCount; ++i) {
    auto t = static_cast<span::Transport>(i);
    j["transports"][std::string(span::TransportName(t))]["spans_per_second_1m"] = impl_->rates.transport(t).PerSecond();
  }
  for (const auto& [stats, instance] : forwarders) {
    nlohmann::json u = observe::ForwarderStatusJson(stats);
    const observe::CounterWindow* w = impl_->rates.upstream(stats.name, instance);
    u["delivered_per_second_1m"] = w != nullptr ? w->PerSecond() : 0.0;
    u["rate_window_seconds"] = w != nullptr ? w->WindowSeconds() : 0.0;
    ups.push_back(std::move(u));
  }
  j["upstreams"] = std::move(ups);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Daemon::MetricsText() const {
  nlohmann::json status = nlohmann::json::parse(StatusJson(), nullptr, /*allow_exceptions=*/false);
  if (status.is_discarded()) return "spanvault_up 1\n";
  return observe::RenderPrometheus(status);
}

}  // namespace spanvault::daemon
