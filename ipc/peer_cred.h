// ipc/ — who is at the other end of a Unix stream socket, and whether that
// peer may use the admin control lines (ipc/control_line.h, NeedsAdmin).
//
// The span sockets are shared by every app that may send spans (mode 0660,
// group spanvault under systemd). Admin lines are allowed only to a peer whose
// SO_PEERCRED uid is root or the daemon's own uid, or whose primary or
// supplementary groups (SO_PEERGROUPS) include the configured admin group.
// The kernel fills these in at connect(); a peer cannot forge them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace spanvault::ipc {

struct PeerCred {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::vector<gid_t> groups;  // supplementary groups (empty when unknown)
  bool known = false;         // SO_PEERCRED answered
};

// Reads SO_PEERCRED and SO_PEERGROUPS of a connected Unix socket.
PeerCred ReadPeerCred(int fd);

struct AdminPolicy {
  uid_t daemon_uid = static_cast<uid_t>(-1);  // the daemon's effective uid
  std::optional<gid_t> admin_gid;             // the configured admin group
  std::string admin_group;                    // its name, for messages

  // The daemon's own uid, no admin group.
  static AdminPolicy ForThisProcess();
  bool Allows(const PeerCred& peer) const;
  // Why `peer` is refused, for the answer ("uid 1000 is not root, ...").
  std::string Refusal(const PeerCred& peer) const;
};

// The gid of a group name; nullopt when there is no such group.
std::optional<gid_t> LookupGroup(const std::string& name);

}  // namespace spanvault::ipc
