#include "ipc/peer_cred.h"

#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59  // Linux 4.13+
#endif

namespace spanvault::ipc {

PeerCred ReadPeerCred(int fd) {
  PeerCred p;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    p.pid = cred.pid;
    p.uid = cred.uid;
    p.gid = cred.gid;
    p.known = true;
  }
  // Asked once with a small buffer; ERANGE tells the size needed.
  std::vector<gid_t> groups(16);
  socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen);
  if (rc != 0 && errno == ERANGE && glen <= 65536 * sizeof(gid_t)) {
    groups.resize(glen / sizeof(gid_t));
    rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen);
  }
  if (rc == 0) {
    groups.resize(glen / sizeof(gid_t));
    p.groups = std::move(groups);
  }
  return p;
}

AdminPolicy AdminPolicy::ForThisProcess() {
  AdminPolicy a;
  a.daemon_uid = geteuid();
  return a;
}

bool AdminPolicy::Allows(const PeerCred& peer) const {
  if (!peer.known) return false;
  if (peer.uid == 0 || peer.uid == daemon_uid) return true;
  if (!admin_gid) return false;
  return peer.gid == *admin_gid || std::find(peer.groups.begin(), peer.groups.end(), *admin_gid) != peer.groups.end();
}

std::string AdminPolicy::Refusal(const PeerCred& peer) const {
  std::string who = peer.known ? "uid " + std::to_string(peer.uid) : "a peer without credentials";
  std::string why = "permission denied: " + who + " is not root, not the daemon's uid " + std::to_string(daemon_uid);
  why += admin_gid ? " and not in the admin group \"" + admin_group + "\""
                   : " (no admin group is configured: ingest.admin_group)";
  return why;
}

std::optional<gid_t> LookupGroup(const std::string& name) {
  group g{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  if (getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return found->gr_gid;
}

}  // namespace spanvault::ipc
