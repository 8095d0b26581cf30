#include "daemon/daemon.h"

#include <pthread.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <thread>

#include "common/log.h"
#include "daemon/daemon_impl.h"
#include "query/service.h"

namespace spanvault::daemon {

Daemon::Impl::~Impl() {
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  // After a failed Start (or without Stop): cancel what the forwarders
  // have in flight while their threads still run, then end the threads.
  forwarders.clear();
  upstream_work.reset();
  upstream_ioc.stop();
  for (auto& t : upstream_threads) {
    if (t.joinable()) t.join();
  }
  // After a failed Start: leave no socket file of ours behind.
  if (!stopped) {
    for (const auto& f : socket_files) ::unlink(f.c_str());
  }
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { Stop(); }
int Daemon::udp_port() const { return impl_->udp_port; }
int Daemon::http_port() const { return impl_->http_port; }
const Config& Daemon::config() const { return impl_->config; }

namespace {

void StartIoThreads(Daemon::Impl& d) {
  d.work.emplace(d.ioc.get_executor());
  const unsigned n = d.config.io_threads == 0 ? 2 : d.config.io_threads;
  for (unsigned i = 0; i < n; ++i) {
    d.threads.emplace_back([&ioc = d.ioc] {
      pthread_setname_np(pthread_self(), "sv-io");
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          LOG_ERROR("I/O thread caught an exception; continuing", {{"error", e.what()}});
        }
      }
    });
  }
}

}  // namespace

// The daemon in pipeline order: the pricing stage and the store, the local
// query API over the store, the forwarders that read the store, then the listeners that feed both through
// the ingest pipeline; last the threads that run it all and the rates.
Result<std::unique_ptr<Daemon>> Daemon::Start(const Config& config) {
  log::Level level;
  if (log::ParseLevel(config.log_level, &level)) log::SetLevel(level);
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  Impl& d = *impl;
  std::error_code ec;
  for (const auto& dir : {config.state_dir, config.runtime_dir}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(Error::Io("cannot create " + dir.string() + ": " + ec.message()));
  }
  if (Status st = BuildPricing(d); !st) return Fail(st.error());
  if (Status st = BuildProcessing(d); !st) return Fail(st.error());
  if (Status st = OpenStore(d); !st) return Fail(st.error());
  if (Status st = BuildQuery(d); !st) return Fail(st.error());
  if (Status st = StartForwarders(d); !st) return Fail(st.error());
  if (Status st = BuildListeners(d, IngestPipeline(d)); !st) return Fail(st.error());

  auto daemon = std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
  Impl& started = *daemon->impl_;
  started.self = daemon.get();
  StartListeners(started);
  StartIoThreads(started);
  StartRateSampling(started);
  started.ready = true;
  auto stats = started.queue->GetStats();
  LOG_INFO("spanvaultd started",
           {{"version", SPANVAULT_VERSION},
            {"state_dir", config.state_dir.string()},
            {"buffered_spans", stats.spans},
            {"io_threads", started.threads.size()},
            {"durability", config.buffer.durability == buffer::Durability::kMachine ? "machine" : "process"}});
  return daemon;
}

void Daemon::Stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.ready = false;
  d.sampling = false;
  // 1. Stop reading: lines already read are decoded and handed to the store.
  if (d.stream) d.stream->Stop();
  if (d.dgram) d.dgram->Stop();
  if (d.udp) d.udp->Stop();
  if (d.http) d.http->Stop();
  // Wait until every stream connection has handed its last lines to the
  // store and closed, and every HTTP request already being read has been
  // answered (they need the store open for that), at most 5 s. The
  // datagram readers' stop handlers run on their strands after any handler
  // that was still decoding; a short pause covers them.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((d.counters[span::Transport::kUnixStream].connections.load() > 0 ||
          d.counters[span::Transport::kHttp].connections.load() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // 2. Requests in flight get shutdown_grace; what they do not finish stays
  // unacknowledged in the store and is sent again after the next start.
  StopForwarders(d);
  // The query threads end (a replay waiting for a forwarder gave up when it
  // stopped), then the engine: both read the store.
  StopQuery(d);
  {
    // Each stops at its next batch; what it did not take stays in the
    // moved-aside store. Joined outside the lock: the writer thread may be
    // adding one.
    std::vector<std::unique_ptr<AutoSalvage>> salvages;
    {
      std::lock_guard lk(d.salvage_mu);
      salvages.swap(d.salvages);
    }
  }
  // 3. The store commits everything queued, fsyncs and closes; the last
  // answers are posted to the connections, which the I/O threads still write.
  d.queue->Close();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.threads) {
    if (t.joinable()) t.join();
  }
  for (const auto& f : d.socket_files) ::unlink(f.c_str());
  LOG_INFO("spanvaultd stopped", nullptr);
}

}  // namespace spanvault::daemon
