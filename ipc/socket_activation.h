// ipc/ — sockets passed by systemd (socket activation, sd_listen_fds(3)).
//
// When LISTEN_PID is this process, fds 3 .. 3+LISTEN_FDS-1 are listening
// sockets opened by spanvault.socket. All of one unit's fds carry the same
// LISTEN_FDNAMES name, so each one is matched to a configured listener by its
// family, type and bound address (getsockname), not by name. A listener with
// no matching fd binds its own socket; an fd nobody claims is logged and
// closed.
#pragma once

#include <string>
#include <vector>

#include "ipc/unix_socket.h"

namespace spanvault::ipc {

class InheritedSockets {
 public:
  // Takes the fds from the environment (and unsets LISTEN_PID/LISTEN_FDS/
  // LISTEN_FDNAMES so children do not inherit them). Empty when not activated.
  static InheritedSockets FromEnvironment();
  InheritedSockets() = default;
  InheritedSockets(InheritedSockets&&) = default;
  InheritedSockets& operator=(InheritedSockets&&) = default;
  ~InheritedSockets();  // closes what nobody took

  // The inherited socket of `type` (SOCK_STREAM / SOCK_DGRAM) bound to the
  // Unix path or the address; -1 when none. The caller owns it afterwards.
  int TakeUnix(int type, const std::string& path);
  int TakeInet(int type, const HostPort& addr);

  size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

}  // namespace spanvault::ipc
