// bench/daemon_client.cc — how spanvault-bench reaches and watches the
// daemon: connecting its Unix stream/datagram sockets and UDP, whole writes
// and line reads with timeouts, the {"$status": true} client and its counter
// extraction, and /proc sampling of a process's CPU seconds and resident set
// (plus our own CPU via getrusage).

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench.h"

namespace spanvault::bench {

namespace {

// Reads a whole small file (procfs); empty on failure.
std::string ReadSmallFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

// ---------------------------------------------------------------------------
// Sockets

// Connects a Unix socket of `type`; -1 and a readable message on failure.
int ConnectUnix(const std::string& path, int type, const char* what, std::string* err) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *err = std::string(what) + " path " + path + " is too long for a Unix socket (max " +
           std::to_string(sizeof addr.sun_path - 1) + " bytes)";
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = "socket(): " + Errno(errno);
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    std::string hint;
    if (e == ENOENT) {
      hint = " (no socket there: is spanvaultd running? use --runtime-dir, --socket or --dgram)";
    } else if (e == ECONNREFUSED) {
      hint = " (nothing is listening: stale socket, or spanvaultd is not running)";
    } else if (e == EACCES || e == EPERM) {
      hint = " (permission denied: run as a user in the socket's group)";
    } else if (e == EPROTOTYPE) {
      hint = " (wrong socket type: is this the right path?)";
    }
    *err = "cannot connect to " + std::string(what) + " " + path + ": " + Errno(e) + hint;
    return -1;
  }
  return fd;
}

// Parses "HOST:PORT" or "[V6]:PORT" and connects a UDP socket to it.
int ConnectUdp(const std::string& hostport, std::string* err) {
  std::string host, port;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close_br = hostport.find(']');
    if (close_br == std::string::npos || close_br + 1 >= hostport.size() || hostport[close_br + 1] != ':') {
      *err = "--udp " + hostport + ": expected HOST:PORT";
      return -1;
    }
    host = hostport.substr(1, close_br - 1);
    port = hostport.substr(close_br + 2);
  } else {
    size_t colon = hostport.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= hostport.size()) {
      *err = "--udp " + hostport + ": expected HOST:PORT";
      return -1;
    }
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    *err = "--udp " + hostport + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  std::string last;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = Errno(errno);
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last = Errno(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) *err = "cannot reach UDP " + hostport + ": " + last;
  return fd;
}

void SetSendTimeout(int fd, double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Writes everything; false with a message on error or timeout (SO_SNDTIMEO).
bool WriteAll(int fd, const char* p, size_t n, double timeout_s, std::string* err) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      *err = "the daemon read nothing for " + Fixed(timeout_s, 0) + " s (see --timeout)";
    } else if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      *err = "the daemon closed the connection";
    } else {
      *err = "write failed: " + Errno(errno);
    }
    return false;
  }
  return true;
}

// Reads one '\n'-terminated line (without it) within `timeout_s`.
bool ReadLine(int fd, std::string& buf, std::string* line, double timeout_s, std::string* err) {
  const int64_t deadline = MonoNs() + static_cast<int64_t>(timeout_s * 1e9);
  for (;;) {
    size_t nl = buf.find('\n');
    if (nl != std::string::npos) {
      line->assign(buf, 0, nl);
      buf.erase(0, nl + 1);
      return true;
    }
    int64_t left = deadline - MonoNs();
    if (left <= 0) {
      *err = "no answer from the daemon within " + Fixed(timeout_s, 0) + " s";
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left / 1'000'000 + 1, 1000)));
    if (r < 0 && errno != EINTR) {
      *err = "poll failed: " + Errno(errno);
      return false;
    }
    if (r <= 0) continue;
    char tmp[16384];
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n > 0) {
      buf.append(tmp, static_cast<size_t>(n));
    } else if (n == 0) {
      *err = "the daemon closed the connection before answering";
      return false;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      *err = "read failed: " + Errno(errno);
      return false;
    }
  }
}

// ---------------------------------------------------------------------------
// The daemon's {"$status": true}

uint64_t U64(const json& o, const char* key) {
  if (!o.is_object()) return 0;
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  return static_cast<uint64_t>(std::max(0.0, it->get<double>()));
}

StatusClient::~StatusClient() {
  if (fd_ >= 0) close(fd_);
}

bool StatusClient::Open(const std::string& path, std::string* err) {
  fd_ = ConnectUnix(path, SOCK_STREAM, "stream socket", err);
  return fd_ >= 0;
}

std::optional<json> StatusClient::Query(double timeout_s, std::string* err) {
  if (fd_ < 0) {
    *err = "no status connection";
    return std::nullopt;
  }
  static const std::string kQuery = "{\"$status\":true}\n";
  if (!WriteAll(fd_, kQuery.data(), kQuery.size(), timeout_s, err)) return std::nullopt;
  std::string line;
  if (!ReadLine(fd_, buf_, &line, timeout_s, err)) return std::nullopt;
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("transports")) {
    *err = "unexpected status answer: " + line.substr(0, 200);
    return std::nullopt;
  }
  return j;
}

Counts StatusClient::Extract(const json& status, const std::string& transport) {
  Counts c;
  auto t = status.find("transports");
  if (t == status.end() || !t->is_object()) return c;
  auto x = t->find(transport);
  if (x == t->end()) return c;
  c.received = U64(*x, "received");
  c.received_bytes = U64(*x, "received_bytes");
  c.accepted = U64(*x, "accepted_spans");
  c.rejected = U64(*x, "rejected");
  c.kernel_drops = U64(*x, "kernel_drops");
  return c;
}

std::string StatusClient::Durability(const json& status) {
  auto b = status.find("buffer");
  if (b == status.end() || !b->is_object()) return {};
  auto d = b->find("durability");
  return d != b->end() && d->is_string() ? d->get<std::string>() : std::string();
}

// ---------------------------------------------------------------------------
// /proc sampling of the daemon and of ourselves

// utime + stime of `pid` in seconds; nullopt when unreadable.
std::optional<double> ProcessCpuSeconds(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string s = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = s.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(paren + 1));
  std::string field;
  // Fields after the command: state(3) ppid pgrp session tty_nr tpgid flags
  // minflt cminflt majflt cmajflt utime(14) stime(15).
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (in >> field); ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  if (!in) return std::nullopt;
  long tck = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(tck > 0 ? tck : 100);
}

// VmHWM (peak resident set) of `pid` in bytes.
std::optional<uint64_t> PeakRssBytes(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string s = ReadSmallFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = s.find("VmHWM:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(s.c_str() + at + 6, nullptr, 10) * 1024;
}

// VmRSS (current resident set) of `pid` in bytes.
std::optional<uint64_t> CurrentRssBytes(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string s = ReadSmallFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = s.find("VmRSS:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(s.c_str() + at + 6, nullptr, 10) * 1024;
}

// Resets the peak RSS of `pid` to its current RSS (Linux >= 4.0), so VmHWM
// after the run is the peak during the run.
bool ResetPeakRss(int pid) {
  if (pid <= 0) return false;
  int fd = open(("/proc/" + std::to_string(pid) + "/clear_refs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
}  // namespace spanvault::bench
