// Creating the listening sockets: Unix sockets with safe stale-file
// replacement and mode 0660, UDP with loopback enforcement, credentials and
// receive-buffer options. Plain POSIX; returns owned file descriptors.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "common/error.h"

namespace spanvault::ipc {

enum class UnixKind { kStream, kDatagram };

// Binds a Unix socket at `path` with file mode `mode`.
// An existing file at `path`: a socket nobody listens on (stale) is
// replaced atomically (bind to a temporary name, rename over); a live socket
// is an error ("in use"); anything else is an error. Stream sockets listen;
// datagram sockets get SO_PASSCRED (peer credentials on every datagram).
Result<int> BindUnixSocket(const std::string& path, UnixKind kind, unsigned mode, int backlog = 1024);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:4319", "[::1]:4319", "localhost:4319".
Result<HostPort> ParseHostPort(std::string_view s);
bool IsLoopback(const std::string& host);

// A numeric IPv4/IPv6 address to bind ("localhost" is 127.0.0.1).
struct InetAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
};
// Errors: a non-loopback address without allow_remote, a host that is not
// an IP address (messages start with `what`: "UDP", "HTTP").
Result<InetAddress> ResolveListenAddress(const HostPort& hp, bool allow_remote, std::string_view what);

// Binds a UDP socket; refuses a non-loopback address unless allow_remote.
// Enables SO_RXQ_OVFL and asks for a receive buffer of `rcvbuf` bytes.
Result<int> BindUdpSocket(const HostPort& addr, bool allow_remote, int rcvbuf);

// Asks for a receive buffer of `bytes` (SO_RCVBUFFORCE when privileged, else
// SO_RCVBUF up to rmem_max); returns what the kernel granted.
int SetReceiveBuffer(int fd, int bytes);

// net.unix.max_dgram_qlen (/proc/sys/net/unix/max_dgram_qlen): how many
// datagrams the kernel queues on a Unix datagram socket before senders
// block. -1 when it cannot be read.
int MaxDatagramQueue();

// The port a bound socket got (for ":0").
int BoundPort(int fd);

}  // namespace spanvault::ipc
