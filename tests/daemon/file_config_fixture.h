// An in-process daemon configured by a TOML file (for upstreams, which only
// the file can declare), with that file as its reload source: tests rewrite
// the file and reload it.
#pragma once

#include "tests/daemon/process_util.h"
#include "tests/ipc/daemon_fixture.h"

namespace spanvault::testing {

class FileConfigFixture : public DaemonFixture {
 protected:
  void SetUp() override {}  // each test starts the daemon with its upstreams

  // The file plus the temp dirs; UDP on a free port, no HTTP listener.
  daemon::LoadOptions Source(const std::string& file) {
    daemon::LoadOptions lo;
    lo.use_environment = false;
    lo.config_file = file;
    lo.sets = {"state_dir=" + dir_.str() + "/state", "runtime_dir=" + dir_.str() + "/run", "ingest.udp=127.0.0.1:0",
               "ingest.http=off", "log_level=warn"};
    return lo;
  }

  void Start(const std::vector<Upstream>& upstreams, const std::string& top = "") {
    daemon::LoadOptions lo = Source(WriteConfig(dir_, upstreams, top));
    std::vector<std::string> problems;
    config_ = daemon::LoadConfig(lo, &problems);
    ASSERT_TRUE(problems.empty()) << problems.front();
    auto d = daemon::Daemon::Start(config_);
    ASSERT_TRUE(d.has_value()) << d.error().message;
    daemon_ = std::move(*d);
    daemon_->SetReloadSource(lo);
  }

  // Rewrites the file and reloads it.
  daemon::ReloadReport Reload(const std::vector<Upstream>& upstreams, const std::string& top = "") {
    WriteConfig(dir_, upstreams, top);
    return daemon_->ReloadFromSource();
  }

  // NDJSON spans with these ids.
  static std::vector<std::string> Spans(const std::vector<std::string>& ids) {
    std::vector<std::string> lines;
    for (const auto& id : ids) lines.push_back(Span(id));
    return lines;
  }
};

}  // namespace spanvault::testing
