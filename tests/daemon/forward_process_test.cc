// Forwarding with the real binaries: spanvaultd (configured by a TOML file)
// forwards to the fake backend running in this test process; it is killed,
// stopped and restarted; the spanvault CLI manages the dead letters.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>

#include "tests/daemon/process_util.h"
#include "tests/upstream/fake_backend.h"

namespace spanvault::testing {
namespace {

using namespace std::chrono_literals;

struct Upstream {
  std::string name;
  std::string endpoint;
  std::string extra;  // more TOML lines for the table
};

// Writes DIR/spanvault.toml with these upstreams and returns its path.
std::string WriteConfig(const TempDir& dir, const std::vector<Upstream>& upstreams, const std::string& top = "") {
  std::string path = dir.str() + "/spanvault.toml";
  std::ofstream f(path);
  f << top << "\n";
  for (const auto& u : upstreams) {
    f << "[[upstream]]\nname = \"" << u.name << "\"\nendpoint = \"" << u.endpoint << "\"\n"
      << "linger = \"20ms\"\nbatch_max_spans = 200\n"
      << "retry = { initial = \"20ms\", max = \"300ms\" }\n"
      << u.extra << "\n";
  }
  return path;
}

json Status(const DaemonProcess& d) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "status", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.code, 0) << r.out;
  return json::parse(r.out, nullptr, false);
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

// Sends the spans with a barrier; returns the barrier's answer.
json SendSynced(const DaemonProcess& d, const std::vector<std::string>& ids) {
  auto c = cli::StreamClient::Connect(d.Socket());
  EXPECT_TRUE(c.has_value());
  if (!c) return {};
  std::string data;
  for (const auto& id : ids) data += Span(id) + "\n";
  data += "{\"$sync\":1}\n";
  EXPECT_TRUE(c->Write(data).has_value());
  auto answer = c->ReadLine(10s);
  EXPECT_TRUE(answer.has_value());
  return answer ? json::parse(*answer, nullptr, false) : json();
}

std::vector<std::string> Ids(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

RunResult Cli(const DaemonProcess& d, std::vector<std::string> args) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  for (auto& a : args) argv.push_back(a);
  return RunCommand(argv);
}

TEST(ForwardCrashTest, EverySyncedSpanArrivesThroughRepeatedSigkillsWhileForwarding) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 30ms});  // keeps requests in flight when the kill comes
  TempDir dir;
  std::string config = WriteConfig(dir, {{"fake", backend.url("/v1/spans"), ""}});
  DaemonProcess d(dir);
  std::set<std::string> acked;
  std::mutex mu;
  for (int round = 0; round < 4; ++round) {
    d.Start({"--config", config});
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
      senders.emplace_back([&, t] {
        auto c = cli::StreamClient::Connect(d.Socket());
        if (!c) return;
        for (int b = 0; !stop; ++b) {
          std::vector<std::string> ids;
          std::string data;
          for (int i = 0; i < 100; ++i) {
            ids.push_back("r" + std::to_string(round) + "t" + std::to_string(t) + "b" + std::to_string(b) + "-" +
                          std::to_string(i));
            data += Span(ids.back()) + "\n";
          }
          data += "{\"$sync\":" + std::to_string(b) + "}\n";
          if (!c->Write(data)) return;
          auto answer = c->ReadLine(10s);
          if (!answer) return;  // killed before answering: not acknowledged
          std::lock_guard lock(mu);
          acked.insert(ids.begin(), ids.end());
        }
      });
    }
    std::this_thread::sleep_for(400ms);
    d.Signal(SIGKILL);
    EXPECT_EQ(d.Wait(), 128 + SIGKILL);
    stop = true;
    for (auto& s : senders) s.join();
  }
  ASSERT_GT(acked.size(), 1000u);
  // One more start: whatever was not acknowledged by the backend goes out now.
  d.Start({"--config", config});
  bool all = WaitFor(
      [&] {
        auto got = backend.received_span_ids();
        for (const auto& id : acked) {
          if (got.count(id) == 0) return false;
        }
        return true;
      },
      60s);
  auto got = backend.received_span_ids();
  size_t missing = 0, duplicates = 0;
  for (const auto& id : acked) missing += got.count(id) == 0 ? 1 : 0;
  for (const auto& [id, n] : got) duplicates += n > 1 ? static_cast<size_t>(n - 1) : 0;
  EXPECT_TRUE(all);
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged spans";
  // At least once: duplicates are allowed (and reported), losses are not.
  std::cout << "[ forward crash ] acknowledged " << acked.size() << ", received " << got.size() << " distinct, "
            << duplicates << " duplicate deliveries over 4 SIGKILLs\n";
  RecordProperty("acknowledged", static_cast<int>(acked.size()));
  RecordProperty("duplicates", static_cast<int>(duplicates));
  // Everything delivered: the buffer empties.
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["spans"] == 0; }));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

TEST(ForwardProcessTest, SigtermGivesRequestsInFlightTheGraceThenKeepsTheRestForTheNextStart) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 4000ms});  // slower than the grace
  TempDir dir;
  std::string config =
      WriteConfig(dir, {{"fake", backend.url("/v1/spans"), "timeout = \"10s\""}}, "shutdown_grace = \"300ms\"");
  DaemonProcess d(dir);
  d.Start({"--config", config});
  auto ids = Ids("g", 300);
  EXPECT_EQ(SendSynced(d, ids)["accepted"], 300);
  ASSERT_TRUE(backend.WaitForRequests(1, 10s));
  auto t0 = std::chrono::steady_clock::now();
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3500ms) << "the grace (300 ms) bounds the shutdown";
  EXPECT_EQ(DumpIds(d).size(), 300u) << "nothing acknowledged: everything stays on disk";
  backend.SetDefault({});
  d.Start({"--config", config});
  ASSERT_TRUE(backend.WaitForUniqueSpans(300, 30s));
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["spans"] == 0; }));
}

TEST(ForwardProcessTest, NewUpstreamStartsAtTheHeadRemovedOneNoLongerHoldsSpans) {
  FakeBackend down, late;
  down.Start();
  late.Start();
  down.SetDown(true);
  TempDir dir;
  DaemonProcess d(dir);
  d.Start({"--config", WriteConfig(dir, {{"down", down.url("/v1/spans"), ""}})});
  EXPECT_EQ(SendSynced(d, Ids("old", 100))["accepted"], 100);
  json s = Status(d);
  ASSERT_EQ(s["upstreams"].size(), 1u);
  EXPECT_EQ(s["upstreams"][0]["name"], "down");
  EXPECT_TRUE(WaitFor([&] { return Status(d)["upstreams"][0]["healthy"] == false; }));
  EXPECT_EQ(Status(d)["upstreams"][0]["pending_spans"], 100);
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);

  // "late" is added: it starts at the head, so it does not get the 100 old spans.
  d.Start({"--config", WriteConfig(dir, {{"down", down.url("/v1/spans"), ""}, {"late", late.url("/v1/spans"), ""}})});
  EXPECT_EQ(SendSynced(d, Ids("new", 50))["accepted"], 50);
  ASSERT_TRUE(late.WaitForUniqueSpans(50, 20s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(late.unique_spans(), 50u);
  EXPECT_EQ(late.received_span_ids().count("old0"), 0u);
  EXPECT_EQ(Status(d)["buffer"]["spans"], 150) << "\"down\" still needs all of them";
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);

  // "down" is removed: nothing holds the spans back any more.
  d.Start({"--config", WriteConfig(dir, {{"late", late.url("/v1/spans"), ""}})});
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["spans"] == 0; }));
  EXPECT_NE(d.Log().find("no longer configured"), std::string::npos);
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

TEST(CheckCliTest, ExitsZeroWhenHealthyOneWithAReasonOtherwise) {
  FakeBackend down;
  down.Start();
  down.SetDown(true);
  TempDir dir;
  DaemonProcess d(dir);
  RunResult none = Cli(d, {"check"});
  EXPECT_EQ(none.code, 1);
  EXPECT_EQ(none.out.rfind("unhealthy: spanvaultd does not answer", 0), 0u) << none.out;

  d.Start({"--config", WriteConfig(dir, {{"down", down.url("/v1/spans"), ""}})});
  RunResult ok = Cli(d, {"check"});
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out.rfind("ok: ", 0), 0u) << ok.out;
  EXPECT_EQ(SendSynced(d, Ids("c", 10))["accepted"], 10);
  ASSERT_TRUE(WaitFor([&] { return Status(d)["upstreams"][0]["healthy"] == false; }));
  RunResult bad = Cli(d, {"check", "--max-pending-age", "0"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("upstream down failing"), std::string::npos) << bad.out;
  EXPECT_EQ(std::count(bad.out.begin(), bad.out.end(), '\n'), 1) << "one line";
  EXPECT_EQ(Cli(d, {"check"}).code, 0) << "within the default 5 minutes of backlog";
}

TEST(DeadLetterCliTest, ListReplayPurgeWithTheDaemonRunningAndStopped) {
  FakeBackendOptions o;
  o.poison_span_ids = {"p7", "p8"};
  FakeBackend backend(o);
  backend.Start();
  TempDir dir;
  std::string config = WriteConfig(dir, {{"fake", backend.url("/v1/spans"), ""}});
  DaemonProcess d(dir);
  d.Start({"--config", config});
  EXPECT_EQ(SendSynced(d, Ids("p", 20))["accepted"], 20);
  ASSERT_TRUE(backend.WaitForUniqueSpans(18, 20s));
  ASSERT_TRUE(WaitFor([&] { return Status(d)["buffer"]["dead_letters"] == 2; }));

  RunResult list = Cli(d, {"dead-letter", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.out;
  std::istringstream lines(list.out);
  std::string line;
  std::map<std::string, uint64_t> id_of;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["upstream"], "fake");
    EXPECT_EQ(j["status"], 400);
    EXPECT_NE(j["response"].get<std::string>().find("poison"), std::string::npos);
    id_of[j["span"]["span_id"].get<std::string>()] = j["id"].get<uint64_t>();
  }
  ASSERT_EQ(id_of.size(), 2u);
  RunResult human = Cli(d, {"dead-letter", "list"});
  EXPECT_NE(human.out.find("span p7"), std::string::npos) << human.out;

  // Replay one through the running daemon; the backend takes it this time.
  backend.Script({{.status = 200}});
  RunResult replay = Cli(d, {"dead-letter", "replay", std::to_string(id_of["p7"])});
  EXPECT_EQ(replay.code, 0) << replay.out;
  EXPECT_EQ(replay.out, "replayed 1\n");
  ASSERT_TRUE(backend.WaitForUniqueSpans(19, 20s));
  EXPECT_EQ(backend.received_span_ids().count("p7"), 1u);
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);

  // With the daemon stopped: list reads the store, purge opens it.
  RunResult after = Cli(d, {"dead-letter", "list", "--json"});
  EXPECT_EQ(after.code, 0);
  EXPECT_EQ(std::count(after.out.begin(), after.out.end(), '\n'), 1) << after.out;
  RunResult purge = Cli(d, {"dead-letter", "purge", "--upstream", "fake"});
  EXPECT_EQ(purge.code, 0) << purge.out;
  EXPECT_EQ(purge.out, "purged 1\n");
  EXPECT_EQ(Cli(d, {"dead-letter", "list", "--json"}).out, "");
}

}  // namespace
}  // namespace spanvault::testing
