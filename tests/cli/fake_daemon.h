// A stand-in for spanvaultd's stream socket that answers the query lines as
// docs/api.md says, from a script: for testing the `spanvault` binary's trace
// commands (the real daemon's side is tested in tests/cli/traces_e2e_test.cc).
// Also runs the CLI with stdout and stderr captured apart.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace spanvault::testing {

using nlohmann::json;

class FakeDaemon {
 public:
  // The lines to answer a query line with; nullopt: not a line this daemon
  // knows (answered as the real one does: nothing, then "unknown control
  // line" in the next $sync answer).
  using Script = std::function<std::optional<std::vector<std::string>>(const json& line)>;

  FakeDaemon(const TempDir& dir, Script script) : path_(dir.str() + "/fake.sock"), script_(std::move(script)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    accepter_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeDaemon() {
    stop_ = true;
    accepter_.join();
    for (auto& t : sessions_) t.join();
    close(fd_);
  }
  const std::string& path() const { return path_; }
  // Every query line received, in order.
  std::vector<json> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) sessions_.emplace_back([this, c] { Serve(c); });
    }
  }

  static void Send(int fd, const std::string& line) {
    std::string l = line + "\n";
    (void)!send(fd, l.data(), l.size(), MSG_NOSIGNAL);
  }

  // Reads lines until the client closes (or the fake stops).
  void Serve(int fd) {
    std::string buf;
    bool unknown = false;
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char chunk[4096];
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
        json line = json::parse(buf.substr(0, nl), nullptr, false);
        buf.erase(0, nl + 1);
        if (line.contains("$sync")) {
          json errors = unknown ? json::array({{{"line", 1}, {"reason", "unknown control line"}}}) : json::array();
          Send(fd, json{{"$sync", line["$sync"]}, {"accepted", 0}, {"rejected", unknown ? 1 : 0}, {"errors", errors}}
                       .dump());
          continue;
        }
        {
          std::lock_guard lock(mu_);
          received_.push_back(line);
        }
        auto answer = script_(line);
        unknown = !answer.has_value();
        for (const auto& a : answer.value_or(std::vector<std::string>{})) Send(fd, a);
      }
    }
    close(fd);
  }

  std::string path_;
  Script script_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread accepter_;
  std::vector<std::thread> sessions_;
  std::mutex mu_;
  std::vector<json> received_;
};

struct CliRun {
  int code = -1;
  std::string out, err;
};

// Starts `argv` with stdout on a pipe and stderr into a file; returns its pid
// and the pipe's read end.
inline pid_t SpawnCli(const std::vector<std::string>& argv, const std::string& err_file, int* out_fd) {
  int out[2];
  EXPECT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    close(out[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  *out_fd = out[0];
  return pid;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs `spanvault ARGS...` to the end.
inline CliRun RunCli(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), SPANVAULT_CLI_PATH);
  std::string err_file = dir.str() + "/cli.err";
  int out_fd = -1;
  pid_t pid = SpawnCli(args, err_file, &out_fd);
  CliRun r;
  char buf[65536];
  for (ssize_t n; (n = read(out_fd, buf, sizeof buf)) > 0;) r.out.append(buf, static_cast<size_t>(n));
  close(out_fd);
  r.code = WaitExit(pid);
  r.err = ReadFile(err_file);
  return r;
}

}  // namespace spanvault::testing
