// Forwarding with the real binaries: spanvaultd (configured by a TOML file)
// forwards to the fake backend running in this test process; it is killed,
// stopped and restarted; the spanvault CLI manages the dead letters.
#include <gtest/gtest.h>

#include <algorithm>
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

json Status(const DaemonProcess& d) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "status", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.code, 0) << r.out;
  return json::parse(r.out, nullptr, false);
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
    const size_t acked_before = acked.size();
    const size_t requests_before = backend.requests().size();
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
    // Killed while spans arrive and are forwarded: once this round has had
    // batches acknowledged and requests sent to the backend.
    EXPECT_TRUE(WaitFor([&] {
      std::lock_guard lock(mu);
      return acked.size() >= acked_before + 600 && backend.requests().size() > requests_before;
    }));
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
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["pending_spans"] == 0; }));
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
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["pending_spans"] == 0; }));
}

// A backend added later gets what local retention kept when asked: `spanvault
// replay` re-sends the stored spans through its forwarder, moving no cursor.
TEST(ForwardProcessTest, ReplayBackfillsAnAddedUpstreamFromTheLocalStore) {
  FakeBackend first, second;
  first.Start();
  second.Start();
  TempDir dir;
  DaemonProcess d(dir);
  d.Start({"--config", WriteConfig(dir, {{"first", first.url("/v1/spans"), ""}})});
  EXPECT_EQ(SendSynced(d, Ids("r", 20))["accepted"], 20);
  ASSERT_TRUE(first.WaitForUniqueSpans(20, 20s));
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["pending_spans"] == 0; }));
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);

  d.Start(
      {"--config", WriteConfig(dir, {{"first", first.url("/v1/spans"), ""}, {"second", second.url("/v1/spans"), ""}})});
  // The delivered spans are still readable (and indexed) after the restart.
  EXPECT_TRUE(WaitFor([&] {
    RunResult r = Cli(d, {"export"});
    return r.code == 0 && std::count(r.out.begin(), r.out.end(), '\n') == 20;
  }));
  EXPECT_EQ(second.unique_spans(), 0u) << "a new upstream starts at the head";
  RunResult r = Cli(d, {"replay", "--upstream", "second", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_TRUE(second.WaitForUniqueSpans(20, 20s));
  EXPECT_EQ(Status(d)["buffer"]["pending_spans"], 0);
  EXPECT_EQ(Cli(d, {"replay", "--upstream", "nope"}).code, 1);
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
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
  // Instead of waiting to see that no more come: "late" has nothing left to
  // send (its cursor is at the head), so what it got is all it will get.
  EXPECT_TRUE(WaitFor([&] {
    json s = Status(d);
    for (const auto& u : s["upstreams"]) {
      if (u["name"] == "late") return u["pending_spans"] == 0;
    }
    return false;
  }));
  EXPECT_EQ(late.unique_spans(), 50u);
  EXPECT_EQ(late.received_span_ids().count("old0"), 0u);
  EXPECT_EQ(Status(d)["buffer"]["pending_spans"], 150) << "\"down\" still needs all of them";
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);

  // "down" is removed: nothing holds the spans back any more.
  d.Start({"--config", WriteConfig(dir, {{"late", late.url("/v1/spans"), ""}})});
  EXPECT_TRUE(WaitFor([&] { return Status(d)["buffer"]["pending_spans"] == 0; }));
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

TEST(ReloadProcessTest, SighupMovesAnUpstreamWhileAClientKeepsSendingOnItsConnection) {
  FakeBackend a, b;
  a.Start();
  b.Start();
  TempDir dir;
  DaemonProcess d(dir);
  d.Start({"--config", WriteConfig(dir, {{"main", a.url("/v1/spans"), ""}})});
  // One client, one connection, acknowledged batches before, during and after
  // the reload; batches begun after the reload was logged are "post".
  std::atomic<bool> reloaded{false}, stop{false}, connection_ok{true};
  std::mutex mu;
  std::set<std::string> acked, post;
  std::thread sender([&] {
    auto c = cli::StreamClient::Connect(d.Socket());
    if (!c) {
      connection_ok = false;
      return;
    }
    for (int batch = 0; !stop; ++batch) {
      bool after = reloaded.load();
      std::vector<std::string> ids = Ids((after ? "post" : "pre") + std::to_string(batch) + "-", 50);
      std::string data;
      for (const auto& id : ids) data += Span(id) + "\n";
      data += "{\"$sync\":" + std::to_string(batch) + "}\n";
      auto answer = c->Write(data).has_value() ? c->ReadLine(10s) : Fail(Error::Io("write failed"));
      if (!answer || json::parse(*answer, nullptr, false).value("accepted", 0) != 50) {
        connection_ok = false;
        return;
      }
      std::lock_guard lock(mu);
      acked.insert(ids.begin(), ids.end());
      if (after) post.insert(ids.begin(), ids.end());
      std::this_thread::sleep_for(5ms);
    }
  });
  // Batches acknowledged before the reload.
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return acked.size() >= 250 || !connection_ok;
  }));
  WriteConfig(dir, {{"main", b.url("/v1/spans"), ""}});
  d.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return d.Log().find("\"msg\":\"configuration reloaded\"") != std::string::npos; }));
  reloaded = true;
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return post.size() >= 500 || !connection_ok;
  }));
  stop = true;
  sender.join();
  EXPECT_TRUE(connection_ok) << "the connection made before the reload keeps working after it";
  ASSERT_GE(post.size(), 500u);
  auto delivered = [&] {
    auto got_a = a.received_span_ids(), got_b = b.received_span_ids();
    size_t missing = 0;
    for (const auto& id : acked) missing += got_a.count(id) == 0 && got_b.count(id) == 0 ? 1 : 0;
    return missing;
  };
  EXPECT_TRUE(WaitFor([&] { return delivered() == 0; })) << delivered() << " of " << acked.size() << " missing";
  auto got_a = a.received_span_ids(), got_b = b.received_span_ids();
  for (const auto& id : post) {
    EXPECT_EQ(got_b.count(id), 1u) << id;
    EXPECT_EQ(got_a.count(id), 0u) << id << " went to the old endpoint";
  }
  EXPECT_NE(d.Log().find("upstream changed"), std::string::npos);
  EXPECT_EQ(Status(d)["upstreams"][0]["endpoint"], b.url("/v1/spans"));
  json s;
  EXPECT_TRUE(WaitFor([&] { return (s = Status(d))["rate_window_seconds"].get<double>() >= 1; }));
  EXPECT_GT(s["transports"]["unix_stream"]["spans_per_second_1m"].get<double>(), 0) << s.dump();

  // `spanvault reload` does the same and prints what changed.
  WriteConfig(dir, {{"main", b.url("/v1/spans"), ""}, {"extra", a.url("/v1/spans"), ""}}, "io_threads = 3");
  RunResult r = Cli(d, {"reload"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("upstreams added      extra"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("upstreams unchanged  main"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("changed but not applied until a restart: io_threads"), std::string::npos) << r.out;
  // A broken file: exit 1, the running configuration stays.
  WriteConfig(dir, {{"main", "ftp://nowhere/x", ""}});
  r = Cli(d, {"reload"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("configuration not reloaded"), std::string::npos) << r.out;
  EXPECT_EQ(Status(d)["upstreams"].size(), 2u);
  // The human status shows the rates.
  RunResult human = Cli(d, {"status"});
  EXPECT_EQ(human.code, 0);
  size_t first = human.out.find("rate/s (1m)");
  ASSERT_NE(first, std::string::npos) << human.out;
  EXPECT_NE(human.out.find("rate/s (1m)", first + 1), std::string::npos) << "transports and upstreams: " << human.out;
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

}  // namespace
}  // namespace spanvault::testing
