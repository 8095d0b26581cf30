# Shared by bench/run.sh and bench/drain.sh (sourced, not run). Before
# sourcing, set SCRIPT (the name for messages). Provides: TMP (a fresh
# directory under /tmp, removed at exit unless KEEP_TMP=1), DAEMON_PID,
# STATUS, ROWS, stop_daemon, free_udp_port, free_tcp_port.

# A short path: Unix socket paths are limited to 107 bytes.
TMP=$(mktemp -d /tmp/svb.XXXXXX)
DAEMON_PID=""
STATUS=0
ROWS=()

# SIGTERM to the daemon started last, up to 30 s to exit 0 (else KILL);
# anything but a clean exit sets STATUS=1.
stop_daemon() {
  local pid=$DAEMON_PID
  [ -n "$pid" ] || return 0
  DAEMON_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 300); do  # up to 30 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$SCRIPT: spanvaultd ($pid) did not stop within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    STATUS=1
  fi
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "$SCRIPT: spanvaultd ($pid) exited with status $rc" >&2
    STATUS=1
  fi
}

cleanup() {
  stop_daemon || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "$SCRIPT: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port udp|tcp: a port on 127.0.0.1 nobody uses (checked in
# /proc/net/PROTO*), outside the kernel's ephemeral range so that no outgoing
# connection takes it before the daemon or the sink binds it; a port taken in
# between makes that run fail, not lie.
free_port() {
  local proto=$1 port hex i lo=32768 hi=60999 base span
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  if [ "$lo" -gt 12000 ]; then
    base=10000 span=$((lo - 10000))
  else
    base=$((hi + 1)) span=$((65535 - hi))
  fi
  for i in $(seq 1 200); do
    port=$((base + (RANDOM * 32768 + RANDOM) % span))
    hex=$(printf '%04X' "$port")
    if ! cat "/proc/net/$proto" "/proc/net/${proto}6" 2>/dev/null | awk '{print $2}' | grep -qi ":$hex\$"; then
      echo "$port"
      return 0
    fi
  done
  echo "$SCRIPT: no free $proto port found" >&2
  return 1
}
free_udp_port() { free_port udp; }
free_tcp_port() { free_port tcp; }
