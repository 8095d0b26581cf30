// Socket activation the way systemd does it: this test (the "launcher") owns
// the four listening sockets, passes them to spanvaultd as fds 3..6 with
// LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, and restarts the daemon twice while
// clients keep sending over every transport. Spans sent while no daemon runs
// wait in the kernel (socket buffers, the listen backlog); every span must end
// up stored.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <mutex>

#include "tests/daemon/process_util.h"
#include "tests/test_util.h"

namespace spanvault::testing {
namespace {

using namespace std::chrono_literals;

int UnixListener(const std::string& path, int type) {
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(listen(fd, 4096), 0);
  }
  return fd;
}

int InetListener(int type, int* port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(listen(fd, 4096), 0);
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  if (type == SOCK_DGRAM) {
    int buf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  return fd;
}

class ActivatedDaemon {
 public:
  ActivatedDaemon(const TempDir& dir, std::vector<int> fds, std::vector<std::string> args)
      : dir_(dir), fds_(std::move(fds)), args_(std::move(args)) {}
  ~ActivatedDaemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      // Move the sockets to 3.. as systemd does (first out of the way).
      std::vector<int> high;
      for (int fd : fds_) high.push_back(fcntl(fd, F_DUPFD, 100));
      for (size_t i = 0; i < high.size(); ++i) dup2(high[i], 3 + static_cast<int>(i));  // dup2 clears CLOEXEC
      int log = open((dir_.str() + "/daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 2);
      setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
      setenv("LISTEN_FDS", std::to_string(high.size()).c_str(), 1);
      setenv("LISTEN_FDNAMES", "spanvault.socket:spanvault.socket:spanvault.socket:spanvault.socket", 1);
      std::vector<std::string> argv = {SPANVAULTD_PATH, "--state-dir",       dir_.str() + "/state",
                                       "--runtime-dir", dir_.str() + "/run", "--log-level",
                                       "info"};
      for (auto& a : args_) argv.push_back(a);
      std::vector<char*> c;
      for (auto& a : argv) c.push_back(a.data());
      c.push_back(nullptr);
      execv(c[0], c.data());
      _exit(127);
    }
  }

  int Stop() {
    kill(pid_, SIGTERM);
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
  std::vector<int> fds_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
};

// POST /v1/spans on a fresh connection; true on a 200.
bool PostSpans(int port, const std::string& ndjson) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "POST /v1/spans HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                      "\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n"
                      "Content-Length: " +
                      std::to_string(ndjson.size()) + "\r\n\r\n" + ndjson;
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[512];
      ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      ok = n > 12 && std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0) == 0;
    }
  }
  close(fd);
  return ok;
}

TEST(SocketActivationTest, RestartsWhileClientsSendLoseNothing) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "run");
  const std::string stream_path = dir.str() + "/run/spans.sock";
  const std::string dgram_path = dir.str() + "/run/spans.dgram";
  int udp_port = 0, http_port = 0;
  std::vector<int> fds = {UnixListener(stream_path, SOCK_STREAM), UnixListener(dgram_path, SOCK_DGRAM),
                          InetListener(SOCK_DGRAM, &udp_port), InetListener(SOCK_STREAM, &http_port)};
  ActivatedDaemon d(
      dir, fds, {"--udp", "127.0.0.1:" + std::to_string(udp_port), "--http", "127.0.0.1:" + std::to_string(http_port)});
  d.Start();
  bool up = false;
  for (int i = 0; i < 2000 && !up; ++i) {
    auto c = cli::StreamClient::Connect(stream_path);
    up = c && c->Write("{\"$status\":true}\n") && c->ReadLine(std::chrono::seconds(20)).has_value();
    if (!up) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(up) << d.Log();
  EXPECT_NE(d.Log().find("using the socket passed by systemd"), std::string::npos);

  std::mutex mu;
  std::set<std::string> sent;  // acknowledged (stream, http) or sent (datagrams)
  std::atomic<bool> stop{false};
  auto note = [&](const std::vector<std::string>& ids) {
    std::lock_guard lk(mu);
    sent.insert(ids.begin(), ids.end());
  };
  std::vector<std::thread> clients;
  clients.emplace_back([&] {  // stream: batches with a barrier, resent until acknowledged
    for (int b = 0; !stop; ++b) {
      std::vector<std::string> ids;
      std::string data;
      for (int i = 0; i < 50; ++i) {
        ids.push_back("st" + std::to_string(b) + "-" + std::to_string(i));
        data += Span(ids.back()) + "\n";
      }
      for (int attempt = 0; attempt < 1000; ++attempt) {
        auto c = cli::StreamClient::Connect(stream_path);
        if (c && c->Write(data + "{\"$sync\":1}\n") && c->ReadLine(std::chrono::seconds(20))) {
          note(ids);
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  clients.emplace_back([&] {  // http: resent until a 200
    for (int b = 0; !stop; ++b) {
      std::vector<std::string> ids;
      std::string data;
      for (int i = 0; i < 20; ++i) {
        ids.push_back("ht" + std::to_string(b) + "-" + std::to_string(i));
        data += Span(ids.back()) + "\n";
      }
      for (int attempt = 0; attempt < 1000 && !PostSpans(http_port, data); ++attempt) {
        std::this_thread::sleep_for(20ms);
      }
      note(ids);
      std::this_thread::sleep_for(5ms);
    }
  });
  clients.emplace_back([&] {  // datagrams: sent once; the kernel holds them while no daemon reads
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int x = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in ua{};
    ua.sin_family = AF_INET;
    ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ua.sin_port = htons(static_cast<uint16_t>(udp_port));
    sockaddr_un xa{};
    xa.sun_family = AF_UNIX;
    std::snprintf(xa.sun_path, sizeof xa.sun_path, "%s", dgram_path.c_str());
    for (int i = 0; !stop; ++i) {
      std::string a = "ud" + std::to_string(i), b = "ux" + std::to_string(i);
      std::string sa = Span(a), sb = Span(b);
      if (sendto(u, sa.data(), sa.size(), 0, reinterpret_cast<sockaddr*>(&ua), sizeof ua) > 0) note({a});
      if (sendto(x, sb.data(), sb.size(), 0, reinterpret_cast<sockaddr*>(&xa), sizeof xa) > 0) note({b});
      std::this_thread::sleep_for(2ms);
    }
    close(u);
    close(x);
  });

  auto sent_count = [&] {
    std::lock_guard lk(mu);
    return sent.size();
  };
  // Bytes waiting in the kernel on the datagram sockets (the test holds the
  // same sockets the daemon was passed).
  auto queued = [&](int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
  };
  // Traffic of every client while the daemon runs: at least `n` more spans.
  auto some_traffic = [&](size_t n) {
    const size_t from = sent_count();
    EXPECT_TRUE(WaitFor([&] { return sent_count() >= from + n; })) << d.Log();
  };
  for (int restart = 0; restart < 2; ++restart) {
    some_traffic(300);
    EXPECT_EQ(d.Stop(), 0);
    // Nobody reads: datagrams wait in the kernel until the next start.
    EXPECT_TRUE(WaitFor([&] { return queued(fds[1]) > 0 && queued(fds[2]) > 0; }));
    d.Start();
  }
  some_traffic(300);
  stop = true;
  for (auto& c : clients) c.join();
  // The daemon has taken every datagram out of the kernel (what it is still
  // decoding, Stop stores); then it stops and what it kept is read.
  EXPECT_TRUE(WaitFor([&] { return queued(fds[1]) == 0 && queued(fds[2]) == 0; }));
  EXPECT_EQ(d.Stop(), 0);
  for (int fd : fds) close(fd);

  DaemonProcess reader(dir);
  std::multiset<std::string> stored = DumpIds(reader);
  size_t missing = 0;
  std::string examples;
  for (const auto& id : sent) {
    if (stored.count(id) == 0) {
      if (++missing <= 5) examples += id + " ";
    }
  }
  EXPECT_GT(sent.size(), 500u);
  EXPECT_EQ(missing, 0u) << "of " << sent.size() << " sent, e.g. " << examples << "\n" << d.Log().substr(0, 4000);
  EXPECT_TRUE(std::filesystem::exists(stream_path)) << "the socket unit's files are not removed by the daemon";
}

TEST(SystemdNotifyTest, ReadyStatusWatchdogAndStopping) {
  TempDir dir;
  const std::string notify_path = dir.str() + "/notify";
  int nfd = UnixListener(notify_path, SOCK_DGRAM);
  timeval tv{20, 0};
  setsockopt(nfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);  // 0.4 s: a ping every 0.2 s
  DaemonProcess d(dir);
  std::vector<std::string> got;
  auto read_one = [&] {
    char buf[4096];
    ssize_t n = recv(nfd, buf, sizeof buf, 0);
    if (n > 0) got.emplace_back(buf, static_cast<size_t>(n));
    return n > 0;
  };
  d.Start();
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(read_one()) << d.Log();
  EXPECT_EQ(got[0].rfind("READY=1\nSTATUS=buffered 0 spans", 0), 0u) << got[0];
  bool watchdog = false;
  for (int i = 0; i < 20 && !watchdog; ++i) {
    ASSERT_TRUE(read_one());
    watchdog = got.back() == "WATCHDOG=1";
  }
  EXPECT_TRUE(watchdog);
  d.Signal(SIGTERM);
  bool stopping = false;
  while (!stopping && read_one()) stopping = got.back().rfind("STOPPING=1", 0) == 0;
  EXPECT_TRUE(stopping);
  EXPECT_EQ(d.Wait(), 0);
  close(nfd);
}

}  // namespace
}  // namespace spanvault::testing
