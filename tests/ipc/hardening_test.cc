// The stream socket against hostile or unprivileged peers: bounded control
// lines, admin lines only for admin peers, connection caps per uid, idle
// connections closed, salvage kept away from the live store. Real sockets,
// a real store; unprivileged peers are real processes run as `nobody`.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/daemon/process_util.h"
#include "tests/ipc/daemon_fixture.h"
#include "tests/ipc/http_test_client.h"

namespace spanvault::testing {
namespace {

using nlohmann::json;

class ControlHardeningTest : public DaemonFixture {};

// One line took the daemon down (SIGSEGV): a $sync id nested 300,000 deep.
TEST_F(ControlHardeningTest, DeeplyNestedControlLineIsRefusedAndTheDaemonGoesOn) {
  auto c = Connect();
  std::string deep = "{\"$sync\":" + std::string(300000, '[') + std::string(300000, ']') + "}";
  json a = SendSync(c, {deep, R"({"name":"after"})"}, 2);
  EXPECT_EQ(a["$sync"], 2);
  EXPECT_EQ(a["accepted"], 1);
  EXPECT_EQ(a["rejected"], 1);
  ASSERT_EQ(a["errors"].size(), 1u);
  EXPECT_EQ(a["errors"][0]["reason"], "control line nests deeper than 4 levels");
  // And the daemon still answers everyone.
  auto other = Connect();
  ASSERT_TRUE(other.Write("{\"$status\":true}\n").has_value());
  auto st = other.ReadLine(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(json::parse(*st).contains("buffer"));
}

TEST_F(ControlHardeningTest, SyncIdsOfOtherShapesAreRefusedWithAReason) {
  auto c = Connect();
  json a = SendSync(c, {R"({"$sync":{"id":[1,2]}})", "{\"$sync\":\"" + std::string(500, 'x') + "\"}"}, 3);
  EXPECT_EQ(a["$sync"], 3);  // the two refused barriers are not answered as barriers
  EXPECT_EQ(a["rejected"], 2);
  ASSERT_EQ(a["errors"].size(), 2u);
  EXPECT_EQ(a["errors"][0]["reason"], "the $sync id must be a string or a number, got object");
  EXPECT_EQ(a["errors"][1]["reason"], "the $sync id is longer than 128 bytes");
}

TEST_F(ControlHardeningTest, SalvageNeverTouchesTheLiveStoreNorFollowsLinks) {
  namespace fs = std::filesystem;
  auto ask = [&](const std::string& dir) {
    auto c = Connect();
    EXPECT_TRUE(c.Write(json({{"$salvage", dir}}).dump() + "\n").has_value());
    auto line = c.ReadLine(std::chrono::seconds(30));
    EXPECT_TRUE(line.has_value());
    return line ? json::parse(*line) : json();
  };
  const std::string live = dir_.str() + "/state/buffer";
  for (const std::string& dir : {live, live + "/", dir_.str() + "/state", live + "/spans", live + "/../buffer"}) {
    json a = ask(dir);
    EXPECT_EQ(a["ok"], false) << dir;
    EXPECT_NE(a["error"].get<std::string>().find("the live store"), std::string::npos) << a.dump();
  }
  json rel = ask("state/buffer");
  EXPECT_EQ(rel["ok"], false);
  EXPECT_NE(rel["error"].get<std::string>().find("absolute path"), std::string::npos);
  // A link to a store elsewhere is not followed.
  fs::create_directories(dir_.path() / "elsewhere");
  std::ofstream(dir_.path() / "elsewhere" / "CURRENT") << "MANIFEST-000001\n";
  fs::create_directory_symlink(dir_.path() / "elsewhere", dir_.path() / "link");
  json link = ask((dir_.path() / "link").string());
  EXPECT_EQ(link["ok"], false);
  EXPECT_NE(link["error"].get<std::string>().find("symbolic link"), std::string::npos) << link.dump();
}

class IdleTimeoutTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"ingest.stream_idle_timeout=200ms"}; }
};

TEST_F(IdleTimeoutTest, SilentConnectionIsClosedBusyOneIsNot) {
  auto idle = Connect();
  auto busy = Connect();
  // The busy one sends a line every 50 ms while the idle one waits for EOF.
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (int i = 0; !stop; ++i) {
      if (!busy.Write("{\"name\":\"tick\"}\n").has_value()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto start = std::chrono::steady_clock::now();
  auto r = idle.ReadLine(std::chrono::seconds(20));
  EXPECT_FALSE(r.has_value());  // EOF: closed by the daemon
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  stop = true;
  sender.join();
  json a = SendSync(busy, {}, 9);
  EXPECT_EQ(a["$sync"], 9);
  EXPECT_GT(a["accepted"].get<int>(), 0);
}

// Peers that are not root, not our uid, not in the admin group: real
// processes run as `nobody` (uid 65534) with setpriv. Needs root.
class UnprivilegedPeerTest : public DaemonFixture {
 protected:
  std::vector<std::string> Settings() override {
    return {"ingest.socket_mode=0666", "ingest.max_connections_per_uid=3"};
  }
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "needs root to run a peer as nobody";
    if (access("/usr/bin/setpriv", X_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) {
      GTEST_SKIP() << "needs /usr/bin/setpriv and /usr/bin/python3";
    }
    DaemonFixture::SetUp();
    chmod(dir_.str().c_str(), 0755);
    chmod((dir_.str() + "/run").c_str(), 0755);
  }

  // Runs `script` (Python) as nobody with the socket path as argv[1];
  // `gid`: its primary group.
  RunResult AsNobody(const std::string& script, const std::string& input = "", int gid = 65534) {
    return RunCommand({"/usr/bin/setpriv", "--reuid=65534", "--regid=" + std::to_string(gid), "--clear-groups",
                       "/usr/bin/python3", "-c", script, StreamPath()},
                      input);
  }
};

// Sends each stdin line on one connection, prints one answer per line that
// gets one (a $sync last ends the exchange).
constexpr const char* kLinesClient = R"(
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
data = sys.stdin.read()
s.sendall(data.encode())
f = s.makefile()
for line in f:
    print(line.strip(), flush=True)
    if line.startswith('{"$sync"'):
        break
)";

TEST_F(UnprivilegedPeerTest, QueryLinesAreAdminLines) {
  std::string lines = R"({"$query":"/api/traces"}
{"$export":"spans"}
{"$tail":"spans"}
{"$replay":"any","params":{}}
{"$sync":1}
)";
  RunResult r = AsNobody(kLinesClient, lines);
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<json> answers;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) answers.push_back(json::parse(l));
  ASSERT_EQ(answers.size(), 5u) << r.out;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(answers[i]["ok"], false) << answers[i].dump();
    EXPECT_NE(answers[i]["error"].get<std::string>().find("permission denied"), std::string::npos) << answers[i].dump();
  }
  EXPECT_EQ(answers[4]["$sync"], 1);
  EXPECT_EQ(Status()["transports"]["unix_stream"]["rejected_by_reason"]["forbidden"], 4);
}

TEST_F(UnprivilegedPeerTest, AdminLinesAreRefusedSpansStatusAndSyncAreNot) {
  std::string lines = R"({"$status":true}
{"$dead_letter":"list"}
{"$dead_letter":"purge"}
{"$reload":true}
{"$salvage":"/tmp"}
{"$prices":"reload"}
{"name":"from-nobody"}
{"$sync":1}
)";
  RunResult r = AsNobody(kLinesClient, lines);
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<json> answers;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) answers.push_back(json::parse(l));
  ASSERT_EQ(answers.size(), 7u) << r.out;
  EXPECT_TRUE(answers[0].contains("buffer"));  // status
  for (size_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(answers[i]["ok"], false) << answers[i].dump();
    EXPECT_NE(answers[i]["error"].get<std::string>().find("permission denied: uid 65534 is not root"),
              std::string::npos)
        << answers[i].dump();
  }
  EXPECT_EQ(answers[6]["$sync"], 1);
  EXPECT_EQ(answers[6]["accepted"], 1);
  EXPECT_EQ(Status()["transports"]["unix_stream"]["rejected_by_reason"]["forbidden"], 5);
  // Root, on the same socket, may.
  auto c = Connect();
  ASSERT_TRUE(c.Write("{\"$dead_letter\":\"list\"}\n").has_value());
  auto line = c.ReadLine(std::chrono::seconds(10));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(json::parse(*line)["ok"], true) << *line;
}

// Opens N connections, reads what each gets within 1 s (a refusal line, or
// nothing), prints {"answers":[...]}, and holds the accepted ones open until
// stdin closes.
constexpr const char* kHoldClient = R"(
import json, socket, sys
n = 5
socks, answers = [], []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    socks.append(s)
for s in socks:
    s.settimeout(1.0)
    try:
        answers.append(s.recv(4096).decode())
    except socket.timeout:
        answers.append(None)
print(json.dumps({"answers": answers}), flush=True)
sys.stdin.read()
)";

TEST_F(UnprivilegedPeerTest, ConnectionsPerUidAreCappedAdminsStillGetIn) {
  // The client holds its connections until its stdin closes: run it with a
  // pipe we close once root has checked that it still gets in.
  int in[2], out[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    std::string path = StreamPath();
    execl("/usr/bin/setpriv", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
          kHoldClient, path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  std::string first;
  char ch;
  while (read(out[0], &ch, 1) == 1 && ch != '\n') first.push_back(ch);
  json got = json::parse(first, nullptr, false);
  ASSERT_TRUE(got.is_object()) << first;
  int held = 0, refused = 0;
  for (auto& a : got["answers"]) {
    if (a.is_null()) {
      ++held;
    } else {
      ++refused;
      EXPECT_NE(a.get<std::string>().find("per-uid connection limit reached"), std::string::npos) << a;
    }
  }
  EXPECT_EQ(held, 3);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(Status()["transports"]["unix_stream"]["connections_refused"], 2);
  // Root is not capped per uid.
  std::vector<cli::StreamClient> mine;
  for (int i = 0; i < 5; ++i) mine.push_back(Connect());
  json a = SendSync(mine.back(), {R"({"name":"root"})"}, 4);
  EXPECT_EQ(a["accepted"], 1);
  close(in[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out[0]);
  // Once nobody's connections close, its uid gets in again.
  EXPECT_TRUE(WaitFor([](const json& s) { return s["transports"]["unix_stream"]["connections"] == 5; }));
  RunResult r = AsNobody(kLinesClient, "{\"$sync\":5}\n");
  EXPECT_NE(r.out.find("\"$sync\":5"), std::string::npos) << r.out;
}

class AdminGroupTest : public UnprivilegedPeerTest {
  std::vector<std::string> Settings() override { return {"ingest.socket_mode=0666", "ingest.admin_group=nogroup"}; }
};

TEST_F(AdminGroupTest, MembersOfTheAdminGroupMayUseAdminLines) {
  RunResult r = AsNobody(kLinesClient, "{\"$dead_letter\":\"list\"}\n{\"$sync\":1}\n");
  ASSERT_EQ(r.code, 0);
  std::istringstream in(r.out);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(json::parse(first)["ok"], true) << r.out;
}

// The in-flight budget: HTTP bodies take their size from it before they are
// read; when it is spent, 503 + Retry-After at once, and the budget comes
// back when the holder is answered.
class HttpBudgetTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"ingest.max_inflight_bytes=1MiB"}; }
};

TEST_F(HttpBudgetTest, SpentBudgetAnswers503WithRetryAfterBeforeReadingTheBody) {
  const int port = daemon_->http_port();
  // A holds 900 KiB of the budget: its header is in, its body is not.
  int a = http_test::RawConnect(port);
  ASSERT_GE(a, 0);
  std::string body(900u << 10, ' ');
  std::string head = "POST /v1/spans HTTP/1.1\r\n" + http_test::HostLine(port) +
                     "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(send(a, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  ASSERT_TRUE(WaitFor([](const json& s) { return s["ingest"]["inflight_bytes"].get<uint64_t>() >= (900u << 10); }));
  // B does not fit: 503 with Retry-After, its body never read.
  http_test::HttpClient b(port);
  auto res = b.Post("/v1/spans", R"({"name":"b"})" + std::string(200u << 10, ' '));
  EXPECT_EQ(res.result_int(), 503) << res.body();
  EXPECT_EQ(res[http_test::http::field::retry_after], "5");
  EXPECT_NE(res.body().find("ingest.max_inflight_bytes"), std::string::npos) << res.body();
  json st = Status();
  EXPECT_EQ(st["ingest"]["budget_refusals"]["http"], 1);
  EXPECT_EQ(st["transports"]["http"]["rejected_by_reason"]["busy"], 1);
  // A finishes; the budget is back; B's retry goes through.
  std::string rest = R"({"name":"a"})" + body.substr(12);
  ASSERT_EQ(send(a, rest.data(), rest.size(), MSG_NOSIGNAL), static_cast<ssize_t>(rest.size()));
  EXPECT_TRUE(WaitFor([](const json& s) { return s["ingest"]["inflight_bytes"] == 0; }));
  http_test::HttpClient again(port);
  auto ok = again.Post("/v1/spans", R"({"name":"b"})");
  EXPECT_EQ(ok.result_int(), 200) << ok.body();
  close(a);
  EXPECT_TRUE(WaitFor([](const json& s) { return s["transports"]["http"]["accepted_spans"] == 2; }));
}

}  // namespace
}  // namespace spanvault::testing
