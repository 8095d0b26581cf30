// The daemon: opens the buffer, binds the listeners and wires them together
// (ipc → span → buffer). Usable in-process by tests.
//
// Threading: `io_threads` threads run one io_context shared by all listeners;
// the buffer has its own writer thread. Start() and Stop() are called from
// one controlling thread (main, or a test).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/error.h"
#include "daemon/config.h"

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

  // Re-reads the price tables (SIGHUP, `spanvault prices reload`). On error
  // the previous tables stay in force and the error is returned.
  Status ReloadPrices();

  // Answers a control line of the stream socket ({"$status": true},
  // {"$prices": "reload" | "unpriced"}); nullopt for an unknown one.
  std::optional<std::string> Control(const std::string& key, const nlohmann::json& line);

  // The Prometheus text exposition served at GET /metrics (daemon/metrics.cc).
  std::string MetricsText() const;

  // The UDP port actually bound (useful with port 0), or -1.
  int udp_port() const;
  // The HTTP port actually bound (useful with port 0), or -1.
  int http_port() const;
  const Config& config() const;

  // Exposed for daemon.cc's helpers only.
  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spanvault::daemon
