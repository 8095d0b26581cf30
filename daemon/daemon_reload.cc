// Daemon::Reload: applies a new configuration to the running daemon (what
// changes is decided in reload.h). The order is deliberate:
//   1. an invalid configuration changes nothing;
//   2. each changed upstream's new settings must build a forwarder before the
//      running one is touched, so settings that cannot work (an unreadable
//      @file header) leave the old forwarder running;
//   3. the forwarders that go are taken out of the list under the unique lock
//      and stopped outside it: Stop() blocks up to shutdown_grace, and the
//      writer thread's on_commit hook needs the shared lock meanwhile;
//   4. a changed upstream's new forwarder is created after the old one
//      stopped, so it reads the cursor the old one persisted (batches that
//      were in flight are sent again: at least once).
// Listeners are not touched: no connection is dropped, no span is lost.
#include <algorithm>
#include <map>

#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace spanvault::daemon {
namespace {

using upstream::UpstreamConfig;

// Stopping a forwarder that never started takes no time; this only bounds it.
constexpr std::chrono::seconds kProbeStop{5};

const UpstreamConfig* Find(const std::vector<UpstreamConfig>& list, const std::string& name) {
  for (const auto& u : list) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void NoteFailure(ReloadReport& r, const std::string& name, const std::string& error, const char* what) {
  LOG_ERROR(what, {{"upstream", name}, {"error", error}});
  r.failed.push_back({name, error});
}

using ForwarderResult = Result<std::unique_ptr<upstream::Forwarder>>;

ForwarderResult CreateForwarder(Daemon::Impl& d, const UpstreamConfig& u) {
  upstream::ForwarderOptions fo;
  fo.max_age = d.config.buffer.max_age;
  fo.keep_set = d.keep_set;
  return upstream::Forwarder::Create(d.upstream_ioc, *d.queue, u, fo);
}

// Step 2: the changed upstreams whose new settings build a forwarder (a
// probe, stopped at once); the others keep running with their old settings.
std::vector<const UpstreamConfig*> ProbeChanged(Daemon::Impl& d, const UpstreamDiff& diff,
                                                const std::vector<UpstreamConfig>& next, ReloadReport& r) {
  std::vector<const UpstreamConfig*> replace;
  for (const std::string& name : diff.changed) {
    const UpstreamConfig& u = *Find(next, name);
    auto probe = CreateForwarder(d, u);
    if (!probe) {
      NoteFailure(r, name, probe.error().message, "upstream not reloaded: its old settings stay in force");
      continue;
    }
    (*probe)->Stop(kProbeStop);
    replace.push_back(&u);
  }
  return replace;
}

// The added upstreams: a consumer each (from the current head on) and a
// forwarder, not started yet.
std::vector<RunningForwarder> CreateAdded(Daemon::Impl& d, const UpstreamDiff& diff,
                                          const std::vector<UpstreamConfig>& next, ReloadReport& r) {
  std::vector<RunningForwarder> fresh;
  for (const std::string& name : diff.added) {
    if (auto st = d.queue->AddConsumer(name); !st) {
      NoteFailure(r, name, st.error().message, "upstream not added");
      continue;
    }
    auto f = CreateForwarder(d, *Find(next, name));
    if (!f) {
      (void)d.queue->RemoveConsumer(name);
      NoteFailure(r, name, f.error().message, "upstream not added");
      continue;
    }
    fresh.push_back({std::move(*f), d.next_instance++});
    r.added.push_back(name);
    LOG_INFO("new upstream: it receives spans from the current head on", {{"upstream", name}});
  }
  return fresh;
}

// Step 3: takes the removed and the replaced upstreams' forwarders out of the
// list (under the unique lock), for the caller to stop outside it.
std::vector<RunningForwarder> TakeLeaving(Daemon::Impl& d, const std::vector<std::string>& removed,
                                          const std::vector<const UpstreamConfig*>& replace) {
  auto goes = [&](const RunningForwarder& f) {
    const std::string& name = f.forwarder->name();
    return Contains(removed, name) ||
           std::any_of(replace.begin(), replace.end(), [&](const UpstreamConfig* u) { return u->name == name; });
  };
  std::vector<RunningForwarder> leaving;
  std::unique_lock lk(d.forwarders_mu);
  for (auto it = d.forwarders.begin(); it != d.forwarders.end();) {
    if (goes(*it)) {
      leaving.push_back(std::move(*it));
      it = d.forwarders.erase(it);
    } else {
      ++it;
    }
  }
  return leaving;
}

// The removed upstreams' cursors, once their forwarders stopped.
void RemoveConsumers(Daemon::Impl& d, const std::vector<std::string>& removed, ReloadReport& r) {
  for (const std::string& name : removed) {
    if (auto st = d.queue->RemoveConsumer(name); !st) {
      // Stopped, but its cursor still holds spans back until the next start.
      NoteFailure(r, name, "removing its cursor: " + st.error().message, "upstream stopped but its cursor stays");
      continue;
    }
    r.removed.push_back(name);
    LOG_WARN("upstream removed: its cursor is removed and it holds no spans back", {{"upstream", name}});
  }
}

// Step 4: a forwarder for each replaced upstream, from the cursor the old one
// persisted; when the new settings fail now, the old ones come back. Returns
// the upstreams left with no forwarder at all.
std::vector<std::string> RecreateChanged(Daemon::Impl& d, const std::vector<const UpstreamConfig*>& replace,
                                         const std::vector<UpstreamConfig>& running,
                                         std::vector<RunningForwarder>& fresh, ReloadReport& r) {
  std::vector<std::string> orphaned;
  for (const UpstreamConfig* u : replace) {
    auto f = CreateForwarder(d, *u);
    if (f) {
      fresh.push_back({std::move(*f), d.next_instance++});
      r.changed.push_back(u->name);
      LOG_INFO("upstream changed: forwarding again from its persisted cursor (batches in flight are sent again)",
               {{"upstream", u->name}, {"endpoint", upstream::RedactEndpoint(u->endpoint)}});
      continue;
    }
    NoteFailure(r, u->name, f.error().message, "upstream not reloaded: its old settings are restored");
    // The new settings built a forwarder a moment ago (a header file removed
    // since?): the old ones come back.
    if (auto back = CreateForwarder(d, *Find(running, u->name))) {
      fresh.push_back({std::move(*back), d.next_instance++});
    } else {
      LOG_ERROR("upstream has no forwarder until the next reload or restart; its spans stay buffered",
                {{"upstream", u->name}, {"error", back.error().message}});
      orphaned.push_back(u->name);
    }
  }
  return orphaned;
}

// What runs now, in the new file's order: the new settings where they
// apply, the old ones where they failed. An orphaned upstream is left out,
// so that the next reload adds it again (from its cursor, which stays).
std::vector<UpstreamConfig> RunningNow(const std::vector<UpstreamConfig>& next,
                                       const std::vector<UpstreamConfig>& running, const ReloadReport& r,
                                       const std::vector<std::string>& orphaned) {
  std::vector<UpstreamConfig> now;
  for (const UpstreamConfig& u : next) {
    if (Contains(r.added, u.name) || Contains(r.changed, u.name) || Contains(r.unchanged, u.name)) {
      now.push_back(u);
    } else if (const UpstreamConfig* old = Find(running, u.name); old != nullptr && !Contains(orphaned, u.name)) {
      now.push_back(*old);
    }
  }
  return now;
}

// The forwarders' list in the order of `now` (any left over at the end) and
// the running config's upstreams.
void InstallForwarders(Daemon::Impl& d, std::vector<RunningForwarder> fresh, std::vector<UpstreamConfig> now) {
  std::unique_lock lk(d.forwarders_mu);
  std::map<std::string, RunningForwarder> by_name;
  for (auto& f : d.forwarders) by_name[f.forwarder->name()] = std::move(f);
  for (auto& f : fresh) by_name[f.forwarder->name()] = std::move(f);
  d.forwarders.clear();
  for (const UpstreamConfig& u : now) {
    if (auto it = by_name.find(u.name); it != by_name.end()) {
      d.forwarders.push_back(std::move(it->second));
      by_name.erase(it);
    }
  }
  for (auto& [name, f] : by_name) d.forwarders.push_back(std::move(f));
  d.config.upstreams = std::move(now);
}

// Steps 2 to 4 of the order at the top of this file.
void ApplyUpstreams(Daemon::Impl& d, const std::vector<UpstreamConfig>& next, ReloadReport& r) {
  const std::vector<UpstreamConfig>& running = d.config.upstreams;
  UpstreamDiff diff = DiffUpstreams(running, next);
  r.unchanged = diff.unchanged;
  // Forwarders that start below warn themselves (Forwarder::Start).
  for (const std::string& name : diff.unchanged) upstream::WarnIfCleartextCredentials(*Find(next, name));
  // The first upstream may come with this reload; the probes need the
  // threads too (stopping a forwarder runs on its strand).
  if (!diff.added.empty() || !diff.changed.empty()) StartUpstreamThreads(d);

  std::vector<const UpstreamConfig*> replace = ProbeChanged(d, diff, next, r);
  std::vector<RunningForwarder> fresh = CreateAdded(d, diff, next, r);
  StopForwardersInParallel(TakeLeaving(d, diff.removed, replace), d.config.shutdown_grace);
  RemoveConsumers(d, diff.removed, r);
  std::vector<std::string> orphaned = RecreateChanged(d, replace, running, fresh, r);
  for (auto& f : fresh) f.forwarder->Start();
  InstallForwarders(d, std::move(fresh), RunningNow(next, running, r, orphaned));
}

ReloadReport ReloadLocked(Daemon::Impl& d, const Config& next) {
  ReloadReport r;
  r.config_errors = d.forwarders_closed ? std::vector<std::string>{"the daemon is stopping"} : next.Validate();
  if (!r.config_errors.empty()) {
    for (const auto& p : r.config_errors) LOG_ERROR("invalid configuration", {{"problem", p}});
    LOG_ERROR("configuration not reloaded: the running one stays in force", {{"problems", r.config_errors.size()}});
    return r;
  }
  Config& running = d.config;
  r.needs_restart = RestartOnlyChanges(running, next);
  for (const auto& key : r.needs_restart) {
    LOG_WARN("configuration key changed: takes effect after a restart", {{"key", key}});
  }
  if (next.log_level != running.log_level) {
    log::Level level;
    if (log::ParseLevel(next.log_level, &level)) log::SetLevel(level);
    running.log_level = next.log_level;
    r.applied.push_back("log_level");
  }
  if (next.shutdown_grace != running.shutdown_grace) {
    running.shutdown_grace = next.shutdown_grace;
    r.applied.push_back("shutdown_grace");
  }
  const bool tables_changed = next.price_tables != running.price_tables;
  if (Status st = tables_changed ? d.pricing->Reload(next.price_tables) : d.pricing->Reload(); st) {
    if (tables_changed) {
      running.price_tables = next.price_tables;
      r.applied.push_back("price_tables");
    }
  } else {
    r.prices_ok = false;
    r.prices_error = st.error().message;
  }
  // Processors at ingest and sample.keep's marks: from the new definitions
  // (they built when the configuration was validated).
  if (Status st = d.ingest_processing->Update(next.processor_defs, next.processors); st) {
    if (next.processors != running.processors) {
      running.processors = next.processors;
      r.applied.push_back("processors");
    }
  } else {
    LOG_ERROR("ingest processors not reloaded", {{"error", st.error().message}});
  }
  if (Status st = d.keep_stage->Update(next.processor_defs, UsedProcessors(next)); !st) {
    LOG_ERROR("keep conditions not reloaded", {{"error", st.error().message}});
  }
  running.processor_defs = next.processor_defs;
  ApplyUpstreams(d, next.upstreams, r);
  LOG_INFO("configuration reloaded", {{"upstreams_added", r.added.size()},
                                      {"upstreams_removed", r.removed.size()},
                                      {"upstreams_changed", r.changed.size()},
                                      {"upstreams_unchanged", r.unchanged.size()},
                                      {"upstreams_failed", r.failed.size()},
                                      {"needs_restart", r.needs_restart},
                                      {"prices", r.prices_ok ? "ok" : "error"}});
  return r;
}

}  // namespace

ReloadReport Daemon::Reload(const Config& next) {
  std::lock_guard lk(impl_->reload_mu);
  return ReloadLocked(*impl_, next);
}

void Daemon::SetReloadSource(LoadOptions options) {
  std::lock_guard lk(impl_->reload_mu);
  impl_->reload_source = std::move(options);
}

ReloadReport Daemon::ReloadFromSource() {
  std::lock_guard lk(impl_->reload_mu);
  if (!impl_->reload_source) {
    ReloadReport r;
    r.config_errors.push_back("this daemon has no configuration source to reload from");
    LOG_ERROR("configuration not reloaded", {{"problem", r.config_errors.front()}});
    return r;
  }
  std::vector<std::string> problems;
  Config next = LoadConfig(*impl_->reload_source, &problems);
  if (!problems.empty()) {
    ReloadReport r;
    r.config_errors = std::move(problems);
    for (const auto& p : r.config_errors) LOG_ERROR("invalid configuration", {{"problem", p}});
    LOG_ERROR("configuration not reloaded: the running one stays in force", {{"problems", r.config_errors.size()}});
    return r;
  }
  return ReloadLocked(*impl_, next);
}

}  // namespace spanvault::daemon
