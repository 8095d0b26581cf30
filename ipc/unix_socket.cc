#include "ipc/unix_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <fstream>

namespace spanvault::ipc {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + strerror(errno); }

bool FillUnixAddr(const std::string& path, sockaddr_un* addr) {
  if (path.size() >= sizeof(addr->sun_path)) return false;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// True when something accepts connections (or datagrams) at `path`.
bool SomeoneListens(const std::string& path, UnixKind kind) {
  sockaddr_un addr;
  if (!FillUnixAddr(path, &addr)) return false;
  int fd = socket(AF_UNIX, (kind == UnixKind::kStream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  close(fd);
  // EPROTOTYPE: a socket of the other kind lives there: someone does listen.
  return rc == 0 || err == EPROTOTYPE || err == EAGAIN;
}

}  // namespace

Result<int> BindUnixSocket(const std::string& path, UnixKind kind, unsigned mode, int backlog) {
  sockaddr_un addr;
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  if (!FillUnixAddr(tmp, &addr)) {
    return Fail(Error::Invalid("socket path " + path + " is too long (Unix socket paths are limited to " +
                               std::to_string(sizeof(addr.sun_path) - 1 - (tmp.size() - path.size())) +
                               " bytes here)"));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Fail(Error::Invalid(path + " exists and is not a socket; refusing to replace it"));
    }
    if (SomeoneListens(path, kind)) {
      return Fail(Error::Io(path + " is in use by a running process (another spanvaultd?)"));
    }
  }
  int fd = socket(AF_UNIX, (kind == UnixKind::kStream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(Error::Io(Errno("socket")));
  unlink(tmp.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string e = Errno("bind " + tmp);
    close(fd);
    return Fail(Error::Io(e));
  }
  if (chmod(tmp.c_str(), mode) != 0) {
    std::string e = Errno("chmod " + tmp);
    close(fd);
    unlink(tmp.c_str());
    return Fail(Error::Io(e));
  }
  if (kind == UnixKind::kStream && listen(fd, backlog) != 0) {
    std::string e = Errno("listen " + path);
    close(fd);
    unlink(tmp.c_str());
    return Fail(Error::Io(e));
  }
  if (kind == UnixKind::kDatagram) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  }
  // rename(2) replaces a stale socket file atomically: there is never a
  // moment without a socket at `path` for clients that retry.
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    std::string e = Errno("rename " + tmp + " to " + path);
    close(fd);
    unlink(tmp.c_str());
    return Fail(Error::Io(e));
  }
  return fd;
}

Result<HostPort> ParseHostPort(std::string_view s) {
  HostPort hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return Fail(Error::Invalid("address \"" + std::string(s) + "\" is not [HOST]:PORT"));
    }
    hp.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return Fail(Error::Invalid("address \"" + std::string(s) + "\" is not HOST:PORT"));
    }
    hp.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p > 65535 || hp.host.empty()) {
    return Fail(Error::Invalid("address \"" + std::string(s) + "\" is not HOST:PORT with a port 0-65535"));
  }
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

int SetReceiveBuffer(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  int got = 0;
  socklen_t len = sizeof got;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
  return got;
}

int MaxDatagramQueue() {
  std::ifstream in("/proc/sys/net/unix/max_dgram_qlen");
  int v = -1;
  if (!(in >> v)) return -1;
  return v;
}

Result<InetAddress> ResolveListenAddress(const HostPort& hp, bool allow_remote, std::string_view what) {
  std::string host = hp.host == "localhost" ? "127.0.0.1" : hp.host;
  if (!allow_remote && !IsLoopback(host)) {
    return Fail(Error::Invalid(std::string(what) + " address " + hp.host + ":" + std::to_string(hp.port) +
                               " is not loopback; set allow_remote = true to listen on it"));
  }
  InetAddress a;
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.storage);
    s->sin_family = AF_INET;
    s->sin_port = htons(hp.port);
    s->sin_addr = a4;
    a.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a.storage);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(hp.port);
    s->sin6_addr = a6;
    a.len = sizeof(sockaddr_in6);
  } else {
    return Fail(Error::Invalid(std::string(what) + " host \"" + hp.host + "\" is not an IP address"));
  }
  return a;
}

Result<int> BindUdpSocket(const HostPort& hp, bool allow_remote, int rcvbuf) {
  auto addr = ResolveListenAddress(hp, allow_remote, "UDP");
  if (!addr) return Fail(addr.error());
  const sockaddr_storage& ss = addr->storage;
  const socklen_t len = addr->len;
  const int family = ss.ss_family;
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(Error::Io(Errno("socket")));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  if (rcvbuf > 0) SetReceiveBuffer(fd, rcvbuf);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    std::string e = Errno("bind UDP " + hp.host + ":" + std::to_string(hp.port));
    close(fd);
    return Fail(Error::Io(e));
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

}  // namespace spanvault::ipc
