// An in-process daemon on temp dirs, and a client for its stream socket.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "buffer/quarantine.h"
#include "buffer/span_queue.h"
#include "cli/client.h"
#include "daemon/daemon.h"
#include "tests/test_util.h"

namespace spanvault::testing {

class DaemonFixture : public ::testing::Test {
 protected:
  // Extra "key=value" settings for the daemon under test.
  virtual std::vector<std::string> Settings() { return {}; }

  void SetUp() override { StartDaemon(); }
  void TearDown() override { StopDaemon(); }

  void StartDaemon() {
    daemon::LoadOptions lo;
    lo.use_environment = false;
    lo.sets = {"state_dir=" + dir_.str() + "/state", "runtime_dir=" + dir_.str() + "/run", "ingest.udp=127.0.0.1:0",
               "ingest.http=127.0.0.1:0", "log_level=warn"};
    for (auto& s : Settings()) lo.sets.push_back(s);
    std::vector<std::string> problems;
    config_ = daemon::LoadConfig(lo, &problems);
    ASSERT_TRUE(problems.empty()) << problems.front();
    auto d = daemon::Daemon::Start(config_);
    ASSERT_TRUE(d.has_value()) << d.error().message;
    daemon_ = std::move(*d);
  }

  void StopDaemon() {
    if (daemon_) daemon_->Stop();
    daemon_.reset();
  }

  std::string StreamPath() const { return dir_.str() + "/run/spans.sock"; }
  std::string DgramPath() const { return dir_.str() + "/run/spans.dgram"; }

  cli::StreamClient Connect() {
    auto c = cli::StreamClient::Connect(StreamPath());
    EXPECT_TRUE(c.has_value()) << c.error().message;
    return std::move(*c);
  }

  // Sends `lines` (each gets a '\n') and a barrier; returns the answer.
  nlohmann::json SendSync(cli::StreamClient& c, const std::vector<std::string>& lines, int id = 1) {
    std::string data;
    for (const auto& l : lines) data += l + "\n";
    data += "{\"$sync\":" + std::to_string(id) + "}\n";
    EXPECT_TRUE(c.Write(data).has_value());
    auto line = c.ReadLine(std::chrono::seconds(30));
    EXPECT_TRUE(line.has_value()) << (line ? "" : line.error().message);
    return line ? nlohmann::json::parse(*line, nullptr, false) : nlohmann::json();
  }

  nlohmann::json Status() { return nlohmann::json::parse(daemon_->StatusJson()); }

  // Polls the status until pred holds (at most `limit`).
  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return testing::WaitFor([&] { return pred(Status()); }, limit);
  }

  // Every stored span, read from the store (daemon stopped or running).
  std::vector<nlohmann::json> StoredSpans() {
    auto q = buffer::SpanQueue::OpenReadOnly(dir_.path() / "state" / "buffer");
    EXPECT_TRUE(q.has_value()) << q.error().message;
    std::vector<nlohmann::json> out;
    if (!q) return out;
    auto recs = (*q)->Read(0, 1u << 30, 1ull << 40);
    EXPECT_TRUE(recs.has_value());
    for (const auto& r : *recs) out.push_back(nlohmann::json::parse(r.json));
    return out;
  }

  std::vector<nlohmann::json> Quarantine() {
    auto q = buffer::SpanQueue::OpenReadOnly(dir_.path() / "state" / "buffer");
    EXPECT_TRUE(q.has_value());
    std::vector<nlohmann::json> out;
    if (!q) return out;
    auto e = (*q)->quarantine().List(100000);
    EXPECT_TRUE(e.has_value());
    for (auto& x : *e) out.push_back(nlohmann::json::parse(x.json));
    return out;
  }

  TempDir dir_;
  daemon::Config config_;
  std::unique_ptr<daemon::Daemon> daemon_;
};

}  // namespace spanvault::testing
