#include "ipc/socket_activation.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace spanvault::ipc {
namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

int SocketType(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -1;
  return type;
}

std::string Normal(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return (ec ? std::filesystem::path(path) : p).lexically_normal().string();
}

}  // namespace

InheritedSockets InheritedSockets::FromEnvironment() {
  InheritedSockets s;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid != nullptr && fds != nullptr) {
    long p = 0, n = 0;
    std::from_chars(pid, pid + std::strlen(pid), p);
    std::from_chars(fds, fds + std::strlen(fds), n);
    if (p == static_cast<long>(getpid()) && n > 0 && n < 1024) {
      for (int fd = kFirstFd; fd < kFirstFd + n; ++fd) {
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) s.fds_.push_back(fd);
      }
      LOG_INFO("socket activation: sockets passed by systemd", {{"fds", s.fds_.size()}});
    }
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  return s;
}

InheritedSockets::~InheritedSockets() {
  for (int fd : fds_) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    LOG_WARN("socket activation: a passed socket matches no configured listener; closed",
             {{"fd", fd}, {"family", ss.ss_family}, {"type", SocketType(fd)}});
    ::close(fd);
  }
}

int InheritedSockets::TakeUnix(int type, const std::string& path) {
  const std::string want = Normal(path);
  for (auto it = fds_.begin(); it != fds_.end(); ++it) {
    sockaddr_un un{};
    socklen_t len = sizeof un;
    if (getsockname(*it, reinterpret_cast<sockaddr*>(&un), &len) != 0 || un.sun_family != AF_UNIX) continue;
    if (SocketType(*it) != type) continue;
    size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    std::string got(un.sun_path, strnlen(un.sun_path, n));
    if (got.empty() || Normal(got) != want) continue;
    int fd = *it;
    fds_.erase(it);
    return fd;
  }
  return -1;
}

int InheritedSockets::TakeInet(int type, const HostPort& addr) {
  in_addr v4{};
  in6_addr v6{};
  const bool want_v4 = inet_pton(AF_INET, addr.host.c_str(), &v4) == 1;
  const bool want_v6 = !want_v4 && inet_pton(AF_INET6, addr.host.c_str(), &v6) == 1;
  const bool localhost = addr.host == "localhost";
  for (auto it = fds_.begin(); it != fds_.end(); ++it) {
    if (SocketType(*it) != type) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(*it, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    bool match = false;
    if (ss.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      bool port_ok = addr.port == 0 || ntohs(in->sin_port) == addr.port;
      bool host_ok =
          (want_v4 && in->sin_addr.s_addr == v4.s_addr) || (localhost && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
      match = port_ok && host_ok;
    } else if (ss.ss_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      bool port_ok = addr.port == 0 || ntohs(in6->sin6_port) == addr.port;
      bool host_ok = (want_v6 && std::memcmp(&in6->sin6_addr, &v6, sizeof v6) == 0) ||
                     (localhost && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
      match = port_ok && host_ok;
    }
    if (!match) continue;
    int fd = *it;
    fds_.erase(it);
    return fd;
  }
  return -1;
}

}  // namespace spanvault::ipc
