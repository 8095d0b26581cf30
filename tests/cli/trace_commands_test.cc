// The `spanvault` binary's trace commands against a stand-in daemon that
// answers as docs/api.md says: the lines they send (parameters 1:1 from the
// options), what they print, exit codes, streaming export, tail and Ctrl-C.
#include <gtest/gtest.h>

#include "tests/cli/fake_daemon.h"
#include "tests/cli/render_fixtures.h"

namespace spanvault::testing {
namespace {

std::vector<std::string> Rows(int n) {
  std::vector<std::string> rows;
  for (int i = 0; i < n; ++i) rows.push_back(json{{"id", "r" + std::to_string(i)}, {"input", "q"}}.dump());
  return rows;
}

// Answers like a daemon with local retention holding TreeAnswer's trace.
std::optional<std::vector<std::string>> Contract(const json& line) {
  if (line.contains("$query")) {
    std::string path = line["$query"];
    json answer = {{"$query", path}, {"status", 200}};
    if (path == "/api/traces") {
      answer["body"] = {{"traces", {TreeAnswer()["trace"]}}, {"next_cursor", nullptr}};
    } else if (path == "/api/traces/4bf92f3577b34da6a3ce929d0e0e4736") {
      answer["body"] = TreeAnswer();
    } else if (path == "/api/traces/bad/id") {
      answer["status"] = 400;
      answer["body"] = {{"error", "bad trace id"}};
    } else {
      answer["status"] = 404;
      answer["body"] = {{"error", "no trace " + path.substr(12)}};
    }
    return std::vector<std::string>{answer.dump()};
  }
  if (line.contains("$export") && line["params"].value("service", "") == "bad") {
    return std::vector<std::string>{R"({"$end":"export","status":400,"error":"unknown service filter"})"};
  }
  if (line.contains("$export")) {
    std::vector<std::string> rows = Rows(3);
    rows.push_back(R"({"$end":"export","rows":3})");
    return rows;
  }
  if (line.contains("$replay")) {
    int failed = line["$replay"] == "flaky" ? 2 : 0;
    return std::vector<std::string>{
        json{{"$replay", line["$replay"]}, {"ok", true}, {"spans", 5}, {"delivered", 5 - failed}, {"failed", failed}}
            .dump()};
  }
  if (line.contains("$tail")) {
    json span = {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
                 {"span_id", "a5"},
                 {"name", "answer"},
                 {"type", "generation"},
                 {"start_time", "2026-12-07T10:00:00.950000000Z"},
                 {"duration_ms", 1350.0},
                 {"status", "ok"},
                 {"total_tokens", 1730},
                 {"cost", 0.00594}};
    return std::vector<std::string>{json{{"$tail", "span"}, {"data", span}}.dump(),
                                    json{{"$tail", "span"}, {"data", span}}.dump()};
  }
  return std::nullopt;
}

class TraceCommandsTest : public ::testing::Test {
 protected:
  CliRun Cli(std::vector<std::string> args) {
    args.push_back("--socket");
    args.push_back(fake_.path());
    return RunCli(dir_, args);
  }
  TempDir dir_;
  FakeDaemon fake_{dir_, Contract};
};

TEST_F(TraceCommandsTest, TracesSendsEveryFilterAsItsParameter) {
  CliRun r = Cli({"traces",
                  "--from",
                  "2h",
                  "--to",
                  "2026-12-07T11:00:00Z",
                  "--service",
                  "rag-api",
                  "--session",
                  "chat-42",
                  "--user",
                  "u-7",
                  "--environment",
                  "prod",
                  "--model",
                  "gpt-4o-mini",
                  "--type",
                  "generation",
                  "--tag",
                  "beta",
                  "--status",
                  "error",
                  "--min-cost",
                  "0.01",
                  "--min-duration-ms",
                  "500",
                  "--q",
                  "answer",
                  "--limit",
                  "20",
                  "--cursor",
                  "c1a2"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(fake_.received().size(), 1u);
  EXPECT_EQ(fake_.received()[0],
            json::parse(R"({"$query":"/api/traces","params":{"from":"2h","to":"2026-12-07T11:00:00Z",
              "service":"rag-api","session":"chat-42","user":"u-7","environment":"prod","model":"gpt-4o-mini",
              "type":"generation","tag":"beta","status":"error","min_cost":"0.01","min_duration_ms":"500",
              "q":"answer","limit":"20","cursor":"c1a2"}})"));
  EXPECT_NE(r.out.find("TIME"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4bf92f35  rag-answer"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);  // stdout is a pipe: no colour
}

TEST_F(TraceCommandsTest, TracesJsonPrintsTheAnswer) {
  CliRun r = Cli({"traces", "--json", "--utc"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake_.received()[0]["params"], json::object());
  json body = json::parse(r.out);
  EXPECT_EQ(body["traces"][0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(body["next_cursor"].is_null());
}

TEST_F(TraceCommandsTest, TraceDrawsTheTree) {
  CliRun r = Cli({"trace", "4bf92f3577b34da6a3ce929d0e0e4736", "--utc"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("└─ [generation] answer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("✗ rate limited"), std::string::npos) << r.out;
  CliRun j = Cli({"trace", "4bf92f3577b34da6a3ce929d0e0e4736", "--json"});
  EXPECT_EQ(json::parse(j.out), TreeAnswer());
}

TEST_F(TraceCommandsTest, TraceTakesTheShortIdTheListPrints) {
  CliRun r = Cli({"trace", "4bf92f35", "--utc"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("trace 4bf92f3577b34da6a3ce929d0e0e4736"), std::string::npos) << r.out;
  std::vector<json> got = fake_.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1], json::parse(R"({"$query":"/api/traces","params":{"limit":"1000"}})"));
  EXPECT_EQ(got[2]["$query"], "/api/traces/4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(TraceCommandsTest, DaemonErrorsExitOneWhenNotFoundTwoWhenRefused) {
  CliRun missing = Cli({"trace", "nosuch"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, "spanvault: no trace nosuch\n");
  EXPECT_EQ(missing.out, "");
  CliRun bad = Cli({"trace", "bad/id"});  // ids go into the path as they are
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err, "spanvault: bad trace id\n");
  CliRun session = Cli({"session", "chat-9"});
  EXPECT_EQ(session.code, 1);
  CliRun usage = Cli({"traces", "--status", "maybe"});
  EXPECT_NE(usage.code, 0);
}

TEST_F(TraceCommandsTest, ExportStreamsRowsToAFileAndCountsThem) {
  std::string file = dir_.str() + "/rows.jsonl";
  CliRun r = Cli({"export", "--shape", "dataset", "--span-type", "generation", "--service", "rag-api", "-o", file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "exported 3 rows to " + file + "\n");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(ReadFile(file), Rows(3)[0] + "\n" + Rows(3)[1] + "\n" + Rows(3)[2] + "\n");
  EXPECT_EQ(fake_.received()[0],
            json::parse(R"({"$export":"dataset","params":{"service":"rag-api","span_type":"generation"}})"));
  CliRun stdout_rows = Cli({"export"});
  EXPECT_EQ(stdout_rows.code, 0);
  EXPECT_EQ(stdout_rows.out.size(), ReadFile(file).size());
  EXPECT_EQ(stdout_rows.err, "exported 3 rows\n");
}

TEST_F(TraceCommandsTest, RefusedExportLeavesTheFileAlone) {
  std::string file = dir_.str() + "/keep.jsonl";
  std::ofstream(file) << "precious\n";
  CliRun r = Cli({"export", "--service", "bad", "-o", file});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "spanvault: unknown service filter\n");
  EXPECT_EQ(ReadFile(file), "precious\n");
}

TEST_F(TraceCommandsTest, ReplayPrintsCountsAndFailsOnFailures) {
  CliRun ok = Cli({"replay", "--upstream", "langfuse", "--from", "1h"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "replayed 5 spans to langfuse: 5 delivered, 0 failed\n");
  EXPECT_EQ(fake_.received()[0], json::parse(R"({"$replay":"langfuse","params":{"from":"1h"}})"));
  CliRun flaky = Cli({"replay", "--upstream", "flaky", "--json"});
  EXPECT_EQ(flaky.code, 1);
  EXPECT_EQ(json::parse(flaky.out)["failed"], 2);
  EXPECT_NE(Cli({"replay"}).code, 0);  // --upstream is required
}

TEST_F(TraceCommandsTest, TailPrintsEventsAndCtrlCExitsCleanly) {
  for (bool as_json : {false, true}) {
    std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "tail", "--socket", fake_.path()};
    if (as_json) argv.push_back("--json");
    int out_fd = -1;
    pid_t pid = SpawnCli(argv, dir_.str() + "/tail.err", &out_fd);
    std::string out;
    char buf[4096];
    while (std::count(out.begin(), out.end(), '\n') < 2) {
      ssize_t n = read(out_fd, buf, sizeof buf);
      ASSERT_GT(n, 0) << out;
      out.append(buf, static_cast<size_t>(n));
    }
    kill(pid, SIGINT);
    EXPECT_EQ(WaitExit(pid), 0) << ReadFile(dir_.str() + "/tail.err");
    close(out_fd);
    if (as_json) {
      EXPECT_EQ(json::parse(out.substr(0, out.find('\n')))["span_id"], "a5") << out;
    } else {
      EXPECT_NE(out.find("generation  answer"), std::string::npos) << out;
    }
  }
  EXPECT_EQ(fake_.received()[0], json::parse(R"({"$tail":"spans"})"));
}

TEST(TraceCommandsOldDaemonTest, UnknownLinesFailAtOnce) {
  TempDir dir;
  FakeDaemon old(dir, [](const json&) { return std::nullopt; });
  for (std::vector<std::string> args :
       {std::vector<std::string>{"traces"}, {"export"}, {"tail"}, {"replay", "--upstream", "u"}}) {
    args.push_back("--socket");
    args.push_back(old.path());
    auto start = std::chrono::steady_clock::now();
    CliRun r = RunCli(dir, args);
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_NE(r.err.find("spanvaultd does not answer $"), std::string::npos) << r.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  }
}

TEST(TraceCommandsOldDaemonTest, NoDaemonIsAConnectionError) {
  TempDir dir;
  CliRun r = RunCli(dir, {"traces", "--socket", dir.str() + "/none.sock"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is spanvaultd running?"), std::string::npos) << r.err;
}

TEST(TraceCommandsPermissionTest, AdminLinesRefusedSayWhy) {
  TempDir dir;
  FakeDaemon strict(dir, [](const json& line) {
    std::string key = line.begin().key();
    json a = {{key, line[key]}, {"ok", false}, {"error", "permission denied: not an admin peer"}};
    return std::optional<std::vector<std::string>>(std::vector<std::string>{a.dump()});
  });
  CliRun r = RunCli(dir, {"traces", "--socket", strict.path()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("permission denied: not an admin peer; run it as root"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace spanvault::testing
