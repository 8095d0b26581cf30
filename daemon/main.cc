// spanvaultd — the spanvault daemon.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/log.h"
#include "config/config.h"
#include "cost/price_book.h"
#include "daemon/daemon.h"

using namespace spanvault;

namespace {
// glibc serves allocations above a moving threshold with their own mmap and
// hands a freed heap top back to the kernel at once, so the ingest path's
// per-read batch buffers (hundreds of KiB, freed once stored) and the
// forwarder's read and gzip buffers faulted in fresh zeroed pages again and
// again. Fixed thresholds instead: only blocks of 32 MiB and more get their
// own mapping, and up to 64 MiB of free heap top is kept (a lower threshold
// cut delivery under full ingest measurably: docs/performance.md).
// At most two arenas: malloc_trim, which the store runs once intake goes
// quiet, returns free memory from the middle of every arena but trims the
// top only of the main one, and with one arena per thread the tops kept
// several times more memory resident while draining a backlog than with two,
// at the same ingest rate (one arena slowed stream ingest).
// An explicit MALLOC_*_ or GLIBC_TUNABLES setting in the environment wins.
void TuneMalloc() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_ARENA_MAX") != nullptr) {
    return;
  }
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

// The command line: flags that stand for config keys, and the modes.
struct Flags {
  std::string config_file, state_dir, runtime_dir, udp, http, log_level;
  std::vector<std::string> sets;
  bool check = false;
  std::string reference;  // --print-config-reference: "md" or "toml"
};

void AddFlags(CLI::App& app, Flags& f) {
  app.set_version_flag("--version", std::string("spanvaultd ") + SPANVAULT_VERSION);
  app.add_option("-c,--config", f.config_file, "TOML config file")->check(CLI::ExistingFile);
  app.add_option("--state-dir", f.state_dir, "where the buffer lives (config: state_dir)");
  app.add_option("--runtime-dir", f.runtime_dir, "where the Unix sockets are created (config: runtime_dir)");
  app.add_option("--udp", f.udp, "UDP listener ADDR:PORT or off (config: ingest.udp)");
  app.add_option(
      "--http", f.http,
      "HTTP listener ADDR:PORT or off: OTLP/HTTP, /v1/spans, /healthz, /readyz, /metrics (config: ingest.http)");
  app.add_option("--log-level", f.log_level, "debug|info|warn|error (config: log_level)");
  app.add_option("--set", f.sets, "override any config key: --set buffer.durability=machine")->take_all();
  app.add_flag("--check-config", f.check, "validate the configuration, print every problem, and exit");
  app.add_option("--print-config-reference", f.reference,
                 "print docs/configuration.md (md) or the commented example config etc/spanvault.toml (toml), "
                 "generated from the config keys, and exit")
      ->check(CLI::IsMember({"md", "toml"}));
  app.footer("Config keys (file / --set / environment), with their defaults:\n" + daemon::DescribeKeys());
}

// The flags that stand for config keys become --set's, after the others.
daemon::LoadOptions ToLoadOptions(const Flags& f) {
  daemon::LoadOptions lo;
  lo.config_file = f.config_file;
  lo.sets = f.sets;
  if (!f.state_dir.empty()) lo.sets.push_back("state_dir=" + f.state_dir);
  if (!f.runtime_dir.empty()) lo.sets.push_back("runtime_dir=" + f.runtime_dir);
  if (!f.udp.empty()) lo.sets.push_back("ingest.udp=" + f.udp);
  if (!f.http.empty()) lo.sets.push_back("ingest.http=" + f.http);
  if (!f.log_level.empty()) lo.sets.push_back("log_level=" + f.log_level);
  return lo;
}

// --check-config: every problem on stderr (exit 1), or "configuration OK".
int CheckConfig(const daemon::Config& config, std::vector<std::string> problems) {
  if (problems.empty()) {
    // Price tables are part of the configuration: load them the same way.
    if (auto book = cost::LoadPriceBook(config.price_tables); !book) {
      problems.push_back("price_tables: " + book.error().message);
    }
  }
  for (const auto& p : problems) std::fprintf(stderr, "error: %s\n", p.c_str());
  if (!problems.empty()) {
    std::fprintf(stderr, "%zu problem(s) found\n", problems.size());
    return 1;
  }
  std::printf("configuration OK\n");
  return 0;
}

// Signals are taken synchronously by the main thread; every other thread
// inherits the blocked mask. Returns the set sigtimedwait waits for.
sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// Stream connections and RocksDB files both need descriptors: use the
// hard limit (systemd's default soft limit is 1024).
void RaiseDescriptorLimit() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
}

// The daemon, or nullptr once the reason is logged.
std::unique_ptr<daemon::Daemon> StartDaemon(const daemon::Config& config) {
  try {
    auto started = daemon::Daemon::Start(config);
    if (!started) {
      LOG_ERROR("cannot start", {{"error", started.error().message}});
      return nullptr;
    }
    return std::move(*started);
  } catch (const std::exception& e) {
    LOG_ERROR("cannot start", {{"error", e.what()}});
    return nullptr;
  }
}

// systemd's STATUS line: the buffer and upstream health.
std::string StatusLine(daemon::Daemon& d) {
  auto j = nlohmann::json::parse(d.StatusJson(), nullptr, false);
  if (!j.is_object()) return std::string("running");
  size_t healthy = 0, total = 0;
  for (const auto& u : j["upstreams"]) {
    ++total;
    healthy += u.value("healthy", false) ? 1 : 0;
  }
  return "buffered " + std::to_string(j["buffer"].value("spans", 0ull)) + " spans; upstreams healthy " +
         std::to_string(healthy) + "/" + std::to_string(total);
}

// systemd (Type=notify): READY once the store is open and the listeners
// run; STATUS with the buffer and upstream health, refreshed; WATCHDOG at
// half of WatchdogSec. No-ops outside systemd (no NOTIFY_SOCKET). Serves
// SIGHUP (reload) until SIGTERM or SIGINT.
void ServeSignals(daemon::Daemon& d, const sigset_t& set) {
  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
  sd_notifyf(0, "READY=1\nSTATUS=%s", StatusLine(d).c_str());
  const timespec tick = watchdog ? timespec{static_cast<time_t>(watchdog_usec / 2 / 1000000),
                                            static_cast<long>((watchdog_usec / 2 % 1000000) * 1000)}
                                 : timespec{5, 0};
  for (;;) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig < 0) {
      if (watchdog) sd_notify(0, "WATCHDOG=1");
      sd_notifyf(0, "STATUS=%s", StatusLine(d).c_str());
      continue;
    }
    if (sig == SIGHUP) {
      LOG_INFO("SIGHUP received: reloading the configuration", nullptr);
      // Logs its problems, or what changed in one line ("configuration reloaded").
      (void)d.ReloadFromSource();
      sd_notifyf(0, "STATUS=%s", StatusLine(d).c_str());
      continue;
    }
    LOG_INFO("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: persisting, finishing requests in flight");
    return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Whoever starts us, with whatever umask: nothing we create (the store,
  // its files, the state and runtime directories) is readable by others.
  // Directories come out 0750, files 0640; the sockets get ingest.socket_mode.
  umask(umask(0) | S_IWGRP | S_IRWXO);
  TuneMalloc();
  spanvault::log::DetectJournal();  // under systemd: "<N>" priorities, no timestamps
  CLI::App app{"spanvaultd: receives LLM spans locally and keeps them durably until forwarded.\n"};
  Flags flags;
  AddFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  if (!flags.reference.empty()) {
    std::fputs(daemon::ConfigReference(flags.reference == "md" ? daemon::ReferenceFormat::kMarkdown
                                                               : daemon::ReferenceFormat::kToml)
                   .c_str(),
               stdout);
    return 0;
  }

  const daemon::LoadOptions lo = ToLoadOptions(flags);
  std::vector<std::string> problems;
  daemon::Config config = daemon::LoadConfig(lo, &problems);
  if (flags.check) return CheckConfig(config, std::move(problems));
  if (!problems.empty()) {
    for (const auto& p : problems) LOG_ERROR("invalid configuration", {{"problem", p}});
    return 2;
  }
  log::Level level;
  log::ParseLevel(config.log_level, &level);
  log::SetLevel(level);

  const sigset_t set = BlockSignals();
  RaiseDescriptorLimit();
  std::unique_ptr<daemon::Daemon> d = StartDaemon(config);
  if (!d) return 1;
  // SIGHUP and {"$reload": true} load the configuration the way it was
  // loaded now: the same file, --set and flags, SPANVAULT_* variables.
  d->SetReloadSource(lo);
  ServeSignals(*d, set);
  d->Stop();
  return 0;
}
