// The daemon's state, shared by the files of daemon/ (start and stop,
// pipeline, listeners, forwarders, observability, control lines, reload).
// Private to daemon/.
//
// Locks, outermost first:
//   reload_mu      one reload at a time; Stop() takes it before stopping the
//                  forwarders, so no reload runs during or after it.
//   forwarders_mu  the forwarder list: shared by the writer thread's
//                  on_commit hook, StatusJson and the rate sampler; unique
//                  only to swap entries — never held while a forwarder stops.
//   rates_mu       the rate sampler's windows.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "buffer/span_queue.h"
#include "common/util.h"
#include "config/config.h"
#include "cost/price_stage.h"
#include "daemon/auto_salvage.h"
#include "daemon/daemon.h"
#include "daemon/query_pool.h"
#include "ipc/datagram_listener.h"
#include "ipc/http_listener.h"
#include "ipc/ingest.h"
#include "ipc/stream_listener.h"
#include "observe/rates.h"
#include "process/ingest_stage.h"
#include "process/keep_set.h"
#include "process/keep_stage.h"
#include "upstream/forwarder.h"

namespace spanvault::query {
class Service;  // query/service.h
}  // namespace spanvault::query

namespace spanvault::daemon {

// A running forwarder and the number that tells it from the one a reload
// replaced it with (the rate sampler starts a new window when it changes).
struct RunningForwarder {
  std::unique_ptr<upstream::Forwarder> forwarder;
  uint64_t instance = 0;
};

// GET /readyz: started, not stopping, and the span store writable (a failed
// store, e.g. a full disk, refuses spans: docs/operations.md). Assigned like
// the flag it replaces (daemon.cc sets it at start and clears it at stop).
class Readiness {
 public:
  explicit Readiness(const std::unique_ptr<buffer::SpanQueue>& queue) : queue_(queue) {}
  Readiness& operator=(bool started) {
    started_ = started;
    return *this;
  }
  bool load() const { return started_.load() && (!queue_ || queue_->GetStats().store_ok); }

 private:
  std::atomic<bool> started_{false};
  const std::unique_ptr<buffer::SpanQueue>& queue_;
};

struct Daemon::Impl {
  // The running configuration. A reload updates upstreams, log_level,
  // shutdown_grace and price_tables (under reload_mu); the rest keeps the
  // values the daemon started with.
  Config config;
  int64_t started_ns = NowNanos();
  boost::asio::io_context ioc;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<buffer::SpanQueue> queue;
  // The salvages of damaged stores (found at start, or while running:
  // SpanQueue's on_moved_aside), running or finished, oldest first. Emptied
  // before the queue closes; destroyed before it (declared after it).
  std::mutex salvage_mu;
  std::vector<std::unique_ptr<AutoSalvage>> salvages;  // guarded by salvage_mu
  // Upstreams: their own io_context, so that compressing batches never
  // competes with the listeners' handlers for a thread. The threads start
  // with the first forwarder (at start or at a reload).
  boost::asio::io_context upstream_ioc;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> upstream_work;
  std::vector<std::thread> upstream_threads;
  std::vector<RunningForwarder> forwarders;  // in config order
  std::shared_mutex forwarders_mu;
  uint64_t next_instance = 1;  // under reload_mu (or before the daemon serves)
  std::mutex reload_mu;
  std::optional<LoadOptions> reload_source;  // under reload_mu
  bool forwarders_closed = false;            // under reload_mu: Stop() began
  std::unique_ptr<cost::PriceStage> pricing;
  // sample.keep (docs/processors.md): the traces kept by keep conditions,
  // marked at ingest by keep_stage and read by the forwarders' sample
  // processors. A reload updates the stage's rules.
  std::shared_ptr<process::KeepSet> keep_set = std::make_shared<process::KeepSet>();
  std::unique_ptr<process::KeepStage> keep_stage;
  // Top-level `processors`, applied at ingest (after pricing, before the keep
  // marks and the store). A reload swaps its chain.
  std::unique_ptr<process::IngestStage> ingest_processing;
  // The local query API (daemon/query.h): the engine (null when
  // local.retention = 0 or local.api = false) and its threads (null when
  // local.api = false). Stopped after the listeners and forwarders, before
  // the queue closes.
  std::unique_ptr<query::Service> query;
  std::unique_ptr<QueryPool> query_pool;
  ipc::Counters counters;
  // Intake and delivery rates: sampled every second on `ioc`.
  std::optional<boost::asio::steady_timer> rate_timer;
  std::chrono::steady_clock::time_point next_sample;
  std::atomic<bool> sampling{false};
  mutable std::mutex rates_mu;
  observe::RateSampler rates;
  std::unique_ptr<ipc::StreamListener> stream;
  std::unique_ptr<ipc::DatagramListener> dgram;
  std::unique_ptr<ipc::DatagramListener> udp;
  std::unique_ptr<ipc::HttpListener> http;
  std::vector<std::string> socket_files;  // removed at Stop
  int udp_port = -1;
  int http_port = -1;
  bool stopped = false;
  Readiness ready{queue};  // GET /readyz: started, not stopping, store writable
  Daemon* self = nullptr;  // for the control handler

  ~Impl();
};

// The builders Daemon::Start composes, in pipeline order. Each fills its part
// of Impl; an error leaves what was built for ~Impl to undo.
Status BuildPricing(Daemon::Impl& d);                                 // daemon/pipeline.cc
Status BuildProcessing(Daemon::Impl& d);                              // daemon/pipeline.cc
Status OpenStore(Daemon::Impl& d);                                    // daemon/pipeline.cc
Status StartForwarders(Daemon::Impl& d);                              // daemon/forwarders.cc
Status BuildQuery(Daemon::Impl& d);                                   // daemon/query.cc
ipc::SubmitFn IngestPipeline(Daemon::Impl& d);                        // daemon/pipeline.cc: price, keep marks, store
Status BuildListeners(Daemon::Impl& d, const ipc::SubmitFn& submit);  // daemon/listeners.cc
void StartListeners(Daemon::Impl& d);                                 // daemon/listeners.cc
void StartRateSampling(Daemon::Impl& d);                              // daemon/observability.cc
// Stops and destroys the forwarders and their threads; no reload starts any
// after it (daemon/forwarders.cc).
void StopForwarders(Daemon::Impl& d);
// The query API's hooks for the listeners (empty when local.api is off), and
// its stop: the query threads end (queued work is answered 503), then the
// engine goes (daemon/query.cc).
ipc::ApiHooks QueryHttpHooks(Daemon::Impl& d);
ipc::SocketQueryHooks QuerySocketHooks(Daemon::Impl& d);
void StopQuery(Daemon::Impl& d);

// The [[processor]] names the upstreams of `c` use (daemon/pipeline.cc).
std::vector<std::string> UsedProcessors(const Config& c);

// Starts config.upstream_threads threads on upstream_ioc unless they run.
// Called with reload_mu held, or before the daemon serves.
void StartUpstreamThreads(Daemon::Impl& d);

// Stops the forwarders side by side (the grace bounds the whole wait), then
// destroys them. Blocks; must not run on upstream_ioc's threads.
void StopForwardersInParallel(std::vector<RunningForwarder> forwarders, std::chrono::milliseconds grace);

}  // namespace spanvault::daemon
