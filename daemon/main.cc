// spanvaultd — the spanvault daemon.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/log.h"
#include "cost/price_book.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

using namespace spanvault;

int main(int argc, char** argv) {
  spanvault::log::DetectJournal();  // under systemd: "<N>" priorities, no timestamps
  CLI::App app{"spanvaultd: receives LLM spans locally and keeps them durably until forwarded.\n"};
  app.set_version_flag("--version", std::string("spanvaultd ") + SPANVAULT_VERSION);
  std::string config_file, state_dir, runtime_dir, udp, http, log_level;
  std::vector<std::string> sets;
  bool check = false;
  app.add_option("-c,--config", config_file, "TOML config file")->check(CLI::ExistingFile);
  app.add_option("--state-dir", state_dir, "where the buffer lives (config: state_dir)");
  app.add_option("--runtime-dir", runtime_dir, "where the Unix sockets are created (config: runtime_dir)");
  app.add_option("--udp", udp, "UDP listener ADDR:PORT or off (config: ingest.udp)");
  app.add_option(
      "--http", http,
      "HTTP listener ADDR:PORT or off: OTLP/HTTP, /v1/spans, /healthz, /readyz, /metrics (config: ingest.http)");
  app.add_option("--log-level", log_level, "debug|info|warn|error (config: log_level)");
  app.add_option("--set", sets, "override any config key: --set buffer.durability=machine")->take_all();
  app.add_flag("--check-config", check, "validate the configuration, print every problem, and exit");
  app.footer("Config keys (file / --set / environment), with their defaults:\n" + daemon::DescribeKeys());
  CLI11_PARSE(app, argc, argv);

  daemon::LoadOptions lo;
  lo.config_file = config_file;
  lo.sets = sets;
  if (!state_dir.empty()) lo.sets.push_back("state_dir=" + state_dir);
  if (!runtime_dir.empty()) lo.sets.push_back("runtime_dir=" + runtime_dir);
  if (!udp.empty()) lo.sets.push_back("ingest.udp=" + udp);
  if (!http.empty()) lo.sets.push_back("ingest.http=" + http);
  if (!log_level.empty()) lo.sets.push_back("log_level=" + log_level);
  std::vector<std::string> problems;
  daemon::Config config = daemon::LoadConfig(lo, &problems);
  if (check) {
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
  if (!problems.empty()) {
    for (const auto& p : problems) LOG_ERROR("invalid configuration", {{"problem", p}});
    return 2;
  }
  log::Level level;
  log::ParseLevel(config.log_level, &level);
  log::SetLevel(level);

  // Signals are taken synchronously by this thread; every other thread
  // inherits the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Stream connections and RocksDB files both need descriptors: use the
  // hard limit (systemd's default soft limit is 1024).
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  std::unique_ptr<daemon::Daemon> d;
  try {
    auto started = daemon::Daemon::Start(config);
    if (!started) {
      LOG_ERROR("cannot start", {{"error", started.error().message}});
      return 1;
    }
    d = std::move(*started);
  } catch (const std::exception& e) {
    LOG_ERROR("cannot start", {{"error", e.what()}});
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      LOG_INFO("SIGHUP received: reloading price tables", nullptr);
      (void)d->ReloadPrices();  // errors are logged; the old tables stay
      continue;
    }
    LOG_INFO("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  d->Stop();
  return 0;
}
