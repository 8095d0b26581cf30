// The daemon: opens the buffer, binds the listeners and wires them together
// (ipc → span → buffer). Usable in-process by tests.
//
// Threading: `io_threads` threads run one io_context shared by all listeners;
// the buffer has its own writer thread; the forwarders run on
// `upstream_threads` threads of their own. Start() and Stop() are called from
// one controlling thread (main, or a test); Reload() and the other methods
// may be called from any thread (reloads run one at a time).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/error.h"
#include "config/config.h"
#include "daemon/reload.h"

namespace spanvault::daemon {

class Daemon {
 public:
  // Creates the directories, opens the store, binds every configured
  // listener and starts serving. Errors name what failed (a path in use, an
  // address that cannot be bound, a store that cannot be opened).
  static Result<std::unique_ptr<Daemon>> Start(const Config& config);
  ~Daemon();  // Stop()

  // Graceful stop: listeners stop reading; everything already read is handed
  // to the store; the store commits it, fsyncs and closes. Idempotent.
  void Stop();

  // The status document `spanvault status` prints (see README).
  std::string StatusJson() const;

  // Applies a new configuration without a restart (see reload.h): upstreams
  // by name (unchanged ones keep running; removed, added and changed ones
  // are stopped and started), price tables, log_level, shutdown_grace. Keys
  // that need a restart are reported and logged, not applied. An invalid
  // `next` changes nothing. Listeners and their connections are untouched,
  // and no buffered span is lost. Blocks while replaced forwarders finish
  // their requests in flight (at most shutdown_grace). After Stop() began it
  // changes nothing and reports an error.
  ReloadReport Reload(const Config& next);

  // Where ReloadFromSource() reads the configuration: the options the daemon
  // was started with (file, --set, flags, environment).
  void SetReloadSource(LoadOptions options);
  // Loads the configuration from the reload source (problems → the report's
  // config_errors, nothing applied) and Reload()s it. SIGHUP and
  // {"$reload": true}. Without a source: an error, nothing applied.
  ReloadReport ReloadFromSource();

  // Re-reads the price tables (SIGHUP, `spanvault prices reload`). On error
  // the previous tables stay in force and the error is returned.
  Status ReloadPrices();

  // Answers a control line of the stream socket ({"$status": true},
  // {"$reload": true} → ReloadReport::ToJson() plus "$reload",
  // {"$prices": "reload" | "unpriced"}, {"$dead_letter": ...},
  // {"$salvage": DIR}); nullopt for an unknown one.
  std::optional<std::string> Control(const std::string& key, const nlohmann::json& line);

  // The Prometheus text exposition served at GET /metrics (daemon/metrics.cc).
  std::string MetricsText() const;

  // The UDP port actually bound (useful with port 0), or -1.
  int udp_port() const;
  // The HTTP port actually bound (useful with port 0), or -1.
  int http_port() const;
  // The running configuration (a reload changes only what it applied).
  // Not synchronized with a concurrent Reload().
  const Config& config() const;

  // Exposed for daemon.cc's helpers only.
  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spanvault::daemon
