// Tests that run the real binaries: spanvaultd killed with SIGKILL and
// restarted, SIGTERM, and the spanvault CLI.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli/client.h"
#include "tests/daemon/process_util.h"
#include "tests/test_util.h"

namespace spanvault::testing {
namespace {

TEST(CrashTest, SyncedSpansSurviveSigkill) {
  TempDir dir;
  DaemonProcess d(dir);
  std::multiset<std::string> expected;
  for (int round = 0; round < 4; ++round) {
    d.Start();
    auto c = cli::StreamClient::Connect(d.Socket());
    ASSERT_TRUE(c.has_value());
    std::string data;
    for (int i = 0; i < 2500; ++i) {
      std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
      data += Span(id) + "\n";
      expected.insert(id);
    }
    data += "{\"$sync\":1}\n";
    ASSERT_TRUE(c->Write(data).has_value());
    auto answer = c->ReadLine();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(json::parse(*answer)["accepted"], 2500);
    d.Signal(SIGKILL);  // no chance to flush anything
    EXPECT_EQ(d.Wait(), 128 + SIGKILL);
  }
  // Exactly the acknowledged spans, each once.
  EXPECT_EQ(DumpIds(d), expected);
}

TEST(CrashTest, AckedSpansSurviveSigkillUnderLoad) {
  TempDir dir;
  DaemonProcess d(dir);
  std::set<std::string> acked;
  for (int round = 0; round < 3; ++round) {
    d.Start();
    const size_t acked_before = acked.size();
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
      senders.emplace_back([&, t] {
        auto c = cli::StreamClient::Connect(d.Socket());
        if (!c) return;
        for (int b = 0; !stop; ++b) {
          std::vector<std::string> ids;
          std::string data;
          for (int i = 0; i < 200; ++i) {
            ids.push_back("r" + std::to_string(round) + "t" + std::to_string(t) + "b" + std::to_string(b) + "-" +
                          std::to_string(i));
            data += Span(ids.back()) + "\n";
          }
          data += "{\"$sync\":" + std::to_string(b) + "}\n";
          if (!c->Write(data)) return;
          auto answer = c->ReadLine(std::chrono::seconds(10));
          if (!answer) return;  // killed before answering: these are not acknowledged
          std::lock_guard lock(mu);
          acked.insert(ids.begin(), ids.end());
        }
      });
    }
    // Killed under load: once every sender has had batches acknowledged.
    EXPECT_TRUE(WaitFor([&] {
      std::lock_guard lock(mu);
      return acked.size() >= acked_before + 1000;
    })) << "no load to kill the daemon under";
    d.Signal(SIGKILL);
    d.Wait();
    stop = true;
    for (auto& s : senders) s.join();
  }
  ASSERT_GT(acked.size(), 0u);
  std::multiset<std::string> stored = DumpIds(d);
  size_t missing = 0;
  for (const auto& id : acked) missing += stored.count(id) == 0;
  EXPECT_EQ(missing, 0u) << "acknowledged spans lost after SIGKILL";
}

TEST(ProcessTest, SigtermStopsCleanlyAndKeepsEverything) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  {
    auto c = cli::StreamClient::Connect(d.Socket());
    ASSERT_TRUE(c.has_value());
    std::string data;
    for (int i = 0; i < 1000; ++i) data += Span("t" + std::to_string(i)) + "\n";
    ASSERT_TRUE(c->Write(data + "{\"$sync\":1}\n").has_value());
    ASSERT_TRUE(c->ReadLine().has_value());
  }
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0) << d.Log();
  EXPECT_FALSE(std::filesystem::exists(d.Socket()));  // socket removed on exit
  EXPECT_EQ(DumpIds(d).size(), 1000u);
  EXPECT_NE(d.Log().find("\"msg\":\"spanvaultd stopped\""), std::string::npos);
  // And it starts again on the same state.
  d.Start();
  d.Signal(SIGINT);
  EXPECT_EQ(d.Wait(), 0);
}

TEST(CliTest, SendStatusRejected) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  auto cli = [&](std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {SPANVAULT_CLI_PATH};
    for (auto& a : args) argv.push_back(a);
    for (auto& a : d.DirArgs()) argv.push_back(a);  // global options after the subcommand
    return RunCommand(argv, input);
  };
  RunResult ok = cli({"send", "--sync"}, Span("a") + "\n" + Span("b"));  // no final newline
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.out, "accepted 2 rejected 0\n");
  RunResult bad = cli({"send", "--sync"}, Span("c") + "\n{\"name\":\"x\",\"type\":\"nope\"}\n");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("accepted 1 rejected 1\nline 2: type \"nope\" is not one of"), std::string::npos) << bad.out;
  RunResult st = cli({"status", "--json"});
  ASSERT_EQ(st.code, 0);
  json s = json::parse(st.out);
  EXPECT_EQ(s["transports"]["unix_stream"]["accepted_spans"], 3);
  EXPECT_EQ(s["buffer"]["spans"], 3);
  EXPECT_EQ(s["buffer"]["quarantined"], 1);
  RunResult human = cli({"status"});
  EXPECT_EQ(human.code, 0);
  EXPECT_NE(human.out.find("buffered spans     3"), std::string::npos) << human.out;
  RunResult rej = cli({"rejected", "--json"});
  EXPECT_EQ(rej.code, 0);
  EXPECT_NE(rej.out.find("is not one of"), std::string::npos);
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
  // The status command says clearly when no daemon runs.
  RunResult down = cli({"status"});
  EXPECT_NE(down.code, 0);
}

TEST(CliTest, PricesQuoteWorksWithoutADaemon) {
  RunResult r = RunCommand({SPANVAULT_CLI_PATH, "prices", "quote", "--model", "gpt-4o", "--input-tokens", "1000",
                            "--output-tokens", "500", "--cache-read-tokens", "200", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  // Exact decimals, as spans carry them.
  EXPECT_NE(r.out.find("\"total\":0.00725,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"price_id\":\"openai/gpt-4o\""), std::string::npos) << r.out;
  RunResult text = RunCommand({SPANVAULT_CLI_PATH, "prices", "quote", "--model", "gpt-4o", "--input-tokens", "1000"});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("total"), std::string::npos);
  RunResult none = RunCommand({SPANVAULT_CLI_PATH, "prices", "quote", "--model", "no-such-model-xyz"});
  EXPECT_EQ(none.code, 1);
  RunResult list = RunCommand({SPANVAULT_CLI_PATH, "prices", "list", "--provider", "anthropic"});
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("claude"), std::string::npos);
}

TEST(ProcessTest, SighupReloadsPriceTables) {
  TempDir dir;
  std::string table = dir.str() + "/p.json";
  auto write = [&](const std::string& price) {
    std::ofstream(table) << R"({"models":[{"id":"m1","provider":"acme","match":{"equals":"m1"},"prices":{"input":)"
                         << price << "}}]}";
  };
  write("1");
  DaemonProcess d(dir);
  d.Start({"--set", "price_tables=" + table});
  auto send = [&](const std::string& id) {
    auto c = cli::StreamClient::Connect(d.Socket());
    ASSERT_TRUE(c.has_value());
    ASSERT_TRUE(c->Write(R"({"name":"x","span_id":")" + id +
                         R"(","type":"generation","model":"m1","provider":"acme","usage":{"input_tokens":1000000}})"
                         "\n{\"$sync\":1}\n")
                    .has_value());
    ASSERT_TRUE(c->ReadLine().has_value());
  };
  send("before");
  write("7");
  d.Signal(SIGHUP);
  // The reload is logged once done.
  for (int i = 0; i < 1500 && d.Log().find("price tables reloaded") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  send("after");
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "buffer", "dump"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult dump = RunCommand(argv);
  EXPECT_NE(dump.out.find(R"("span_id":"before")"), std::string::npos);
  EXPECT_NE(dump.out.find(R"("cost":{"total":1,)"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find(R"("cost":{"total":7,)"), std::string::npos) << dump.out;
}

TEST(CliTest, CheckConfigListsEveryProblem) {
  TempDir dir;
  std::string path = dir.str() + "/bad.toml";
  std::ofstream(path) << "[buffer]\ndurability = \"sometimes\"\nmax_age = \"soon\"\n[ingest]\nudp = \"0.0.0.0:1\"\n";
  RunResult r = RunCommand({SPANVAULTD_PATH, "--config", path, "--check-config"});
  EXPECT_EQ(r.code, 1);
  RunResult good = RunCommand({SPANVAULTD_PATH, "--check-config", "--state-dir", dir.str()});
  EXPECT_EQ(good.code, 0);
  EXPECT_EQ(good.out, "configuration OK\n");
}

}  // namespace
}  // namespace spanvault::testing
