#include "cli/client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"

namespace spanvault::cli {

Result<StreamClient> StreamClient::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Fail(Error::Invalid("socket path too long: " + path));
  memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Error::Io(std::string("socket: ") + strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string e = "cannot connect to " + path + ": " + strerror(errno) + " (is spanvaultd running?)";
    close(fd);
    return Fail(Error::Unavailable(e));
  }
  return StreamClient(fd);
}

StreamClient& StreamClient::operator=(StreamClient&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
    pending_ = std::move(o.pending_);
  }
  return *this;
}

StreamClient::~StreamClient() {
  if (fd_ >= 0) close(fd_);
}

Status StreamClient::Write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(std::string("write: ") + strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> StreamClient::ReadLine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Fail(Error::Unavailable("timed out waiting for the daemon's answer"));
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(std::string("read: ") + strerror(errno)));
    }
    if (n == 0) return Fail(Error::Unavailable("the daemon closed the connection"));
    pending_.append(buf, static_cast<size_t>(n));
  }
}

void StreamClient::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

}  // namespace spanvault::cli
