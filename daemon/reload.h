// daemon/ — what a configuration reload (SIGHUP, {"$reload": true},
// `spanvault reload`) changes, decided without I/O; Daemon::Reload applies
// it (daemon_reload.cc).
//
// Upstreams are matched by name: one whose every setting is equal keeps its
// forwarder (connections and requests in flight go on); a removed one stops
// and its cursor is removed; an added one starts at the current head; a
// changed one is stopped and started again with the new settings from its
// persisted cursor (at least once: batches in flight are sent again).
//
// Of the other keys, only those in kLiveKeys apply at once; the rest
// (listener addresses and paths, state and buffer settings, thread counts)
// are reported as needing a restart and keep their running values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/upstream_config.h"

namespace spanvault::daemon {

// The keys a reload applies (besides the [[upstream]] tables).
inline constexpr const char* kLiveKeys[] = {"log_level", "shutdown_grace", "price_tables", "processors"};

// True when every setting of the two upstreams is equal (names included).
bool SameUpstream(const upstream::UpstreamConfig& a, const upstream::UpstreamConfig& b);

struct UpstreamDiff {
  std::vector<std::string> added, removed, changed, unchanged;  // names, in config order
};
UpstreamDiff DiffUpstreams(const std::vector<upstream::UpstreamConfig>& running,
                           const std::vector<upstream::UpstreamConfig>& next);

// The keys that differ between `running` and `next` and apply only after a
// restart (ChangedKeys minus kLiveKeys).
std::vector<std::string> RestartOnlyChanges(const Config& running, const Config& next);

// What a reload did. `ok()` when the new configuration was valid and every
// part of it that can apply live was applied.
struct ReloadReport {
  struct Failure {
    std::string upstream;
    std::string error;
  };
  // Non-empty: the new configuration is invalid (or could not be read) and
  // nothing was applied.
  std::vector<std::string> config_errors;
  std::vector<std::string> added, removed, changed, unchanged;
  // Upstreams not applied because their forwarder could not be built (an
  // unreadable @file header...): a changed one keeps running with its old
  // settings, an added one is not added.
  std::vector<Failure> failed;
  std::vector<std::string> needs_restart;  // keys changed in the file, not applied
  std::vector<std::string> applied;        // live keys whose new value is in force
  bool prices_ok = true;
  std::string prices_error;

  bool ok() const { return config_errors.empty() && failed.empty() && prices_ok; }
  // {"ok","config_errors","upstreams":{"added","removed","changed","unchanged",
  //  "failed":[{"name","error"}]},"needs_restart","applied","prices":{"ok","error"}}
  nlohmann::json ToJson() const;
};

}  // namespace spanvault::daemon
