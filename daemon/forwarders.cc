// The forwarders: one per configured upstream on their own io_context and
// threads, each reading the buffer through its consumer cursor.
#include <pthread.h>

#include <algorithm>
#include <thread>

#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace spanvault::daemon {

void StartUpstreamThreads(Daemon::Impl& d) {
  if (!d.upstream_threads.empty()) return;
  for (uint32_t i = 0; i < d.config.upstream_threads; ++i) {
    d.upstream_threads.emplace_back([&ioc = d.upstream_ioc] {
      pthread_setname_np(pthread_self(), "sv-upstream");
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          LOG_ERROR("upstream thread caught an exception; continuing", {{"error", e.what()}});
        }
      }
    });
  }
}

void StopForwardersInParallel(std::vector<RunningForwarder> forwarders, std::chrono::milliseconds grace) {
  std::vector<std::thread> stoppers;
  for (auto& f : forwarders) {
    stoppers.emplace_back([&f, grace] { f.forwarder->Stop(grace); });
  }
  for (auto& t : stoppers) t.join();
  forwarders.clear();
}

// Consumers follow the config: an upstream new to this store starts at the
// current head (it does not get the backlog); one no longer configured stops
// holding spans back. Then one forwarder per upstream.
Status StartForwarders(Daemon::Impl& d) {
  std::vector<std::string> existing = d.queue->Consumers();
  for (const std::string& name : existing) {
    bool configured = std::any_of(d.config.upstreams.begin(), d.config.upstreams.end(),
                                  [&](const auto& u) { return u.name == name; });
    if (configured) continue;
    if (auto st = d.queue->RemoveConsumer(name); !st) return st;
    LOG_WARN("upstream no longer configured: its cursor is removed and it holds no spans back", {{"upstream", name}});
  }
  for (const auto& u : d.config.upstreams) {
    if (std::find(existing.begin(), existing.end(), u.name) != existing.end()) continue;
    if (auto st = d.queue->AddConsumer(u.name); !st) return st;
    LOG_INFO("new upstream: it receives spans from the current head on", {{"upstream", u.name}});
  }
  upstream::ForwarderOptions fo;
  fo.max_age = d.config.buffer.max_age;
  fo.keep_set = d.keep_set;
  std::vector<RunningForwarder> forwarders;
  for (const auto& u : d.config.upstreams) {
    auto f = upstream::Forwarder::Create(d.upstream_ioc, *d.queue, u, fo);
    if (!f) return Fail(f.error());
    forwarders.push_back({std::move(*f), d.next_instance++});
  }
  d.upstream_work.emplace(d.upstream_ioc.get_executor());
  if (!forwarders.empty()) StartUpstreamThreads(d);
  for (auto& f : forwarders) f.forwarder->Start();
  std::unique_lock lk(d.forwarders_mu);
  d.forwarders = std::move(forwarders);
  return {};
}

void StopForwarders(Daemon::Impl& d) {
  // No reload may start forwarders again after this.
  std::lock_guard reload_lock(d.reload_mu);
  d.forwarders_closed = true;
  std::vector<RunningForwarder> forwarders;
  {
    std::unique_lock lk(d.forwarders_mu);
    forwarders.swap(d.forwarders);
  }
  // Side by side: the grace is a bound on the whole shutdown.
  StopForwardersInParallel(std::move(forwarders), d.config.shutdown_grace);
  d.upstream_work.reset();
  d.upstream_ioc.stop();
  for (auto& t : d.upstream_threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace spanvault::daemon
