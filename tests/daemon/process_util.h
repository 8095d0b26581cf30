// Helpers for tests that run the real binaries (spanvaultd, spanvault):
// run a command, start/kill/restart the daemon, write its config file, read
// what its buffer holds.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/client.h"
#include "tests/test_util.h"

namespace spanvault::testing {

using nlohmann::json;

struct RunResult {
  int code = -1;
  std::string out;
};

// Runs a command (argv), capturing stdout; stdin from `input`.
inline RunResult RunCommand(std::vector<std::string> argv, const std::string& input = "") {
  int in[2], out[2];
  EXPECT_EQ(pipe(in), 0);
  EXPECT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  std::thread writer([&] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(in[1]);
  });
  RunResult r;
  char buf[65536];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  close(out[0]);
  writer.join();
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class DaemonProcess {
 public:
  explicit DaemonProcess(const TempDir& dir) : dir_(dir) {}
  ~DaemonProcess() {
    if (pid_ > 0) Signal(SIGKILL), Wait();
  }

  std::vector<std::string> DirArgs() const {
    return {"--state-dir", dir_.str() + "/state", "--runtime-dir", dir_.str() + "/run"};
  }
  std::string Socket() const { return dir_.str() + "/run/spans.sock"; }

  void Start(std::vector<std::string> extra = {}) {
    // No HTTP listener unless a test asks with --http (which wins over --set).
    // SPANVAULTD_UNDER_TEST: another build's binary (before/after figures).
    const char* under_test = std::getenv("SPANVAULTD_UNDER_TEST");
    std::vector<std::string> argv = {under_test != nullptr ? under_test : SPANVAULTD_PATH,
                                     "--udp",
                                     "off",
                                     "--set",
                                     "ingest.http=off",
                                     "--log-level",
                                     "info"};
    for (auto& a : DirArgs()) argv.push_back(a);
    for (auto& a : extra) argv.push_back(a);
    pid_ = fork();
    if (pid_ == 0) {
      int log = open((dir_.str() + "/daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    // Ready once the socket answers (at most 20 s: sanitizer builds start slowly).
    for (int i = 0; i < 2000; ++i) {
      if (cli::StreamClient::Connect(Socket()).has_value()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "spanvaultd did not come up; log:\n" << Log();
  }

  void Signal(int sig) { kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  // A line of /proc/PID/status in KiB ("VmHWM" = peak RSS, "VmRSS"); -1 when unknown.
  long ProcStatusKiB(const std::string& field) const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(f, line);) {
      if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string Log() const {
    std::ifstream f(dir_.str() + "/daemon.log");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

 private:
  const TempDir& dir_;
  pid_t pid_ = -1;
};

inline std::string Span(const std::string& id) {
  return R"({"name":"gen","span_id":")" + id +
         R"(","type":"generation","model":"gpt-4o-mini","usage":{"input_tokens":12,"output_tokens":3},"input":"hello"})";
}

inline std::vector<std::string> Ids(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

// One [[upstream]] table of a test config: short linger and retry backoff.
struct Upstream {
  std::string name;
  std::string endpoint;
  std::string extra;  // more TOML lines for the table
};

// Writes DIR/spanvault.toml with these upstreams (after the top-level lines
// `top`) and returns its path. Writing it again replaces it (for reloads).
inline std::string WriteConfig(const TempDir& dir, const std::vector<Upstream>& upstreams,
                               const std::string& top = "") {
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

inline std::multiset<std::string> DumpIds(const DaemonProcess& d) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "buffer", "dump"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.code, 0) << r.out;
  std::multiset<std::string> ids;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << line;
    if (j.is_object()) ids.insert(j["span_id"].get<std::string>());
  }
  return ids;
}

}  // namespace spanvault::testing
