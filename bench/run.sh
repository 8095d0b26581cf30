#!/usr/bin/env bash
# Runs the spanvault benchmark: for each durability mode (process, machine)
# starts a fresh spanvaultd on temporary directories, sends spans over the
# three transports with spanvault-bench, stops the daemon and prints a
# Markdown table of the results.
#
#   bench/run.sh                      # full run (a few minutes at most)
#   SPANS_SCALE=0.1 bench/run.sh      # quick run: a tenth of the spans
#
# Environment:
#   SPANS_SCALE   multiplies the span counts (default 1: 1,000,000 stream,
#                 500,000 dgram, 500,000 udp)
#   UDP_RATE      UDP target rate in spans/s (default 100000)
#   MODES         durability modes to run (default "process machine")
#   TRANSPORTS    transports to run (default "stream dgram udp otlp-proto
#                 otlp-json"; the OTLP ones POST ExportTraceServiceRequests of
#                 512 spans on 2 keep-alive connections for OTLP_SECONDS,
#                 default 10, with spanvault-otlp-bench)
#   DAEMON_ARGS   extra spanvaultd arguments (e.g. "--set buffer.fsync_interval=100ms")
#   KEEP_TMP=1    keep the temporary directories (daemon logs, state)
#
# Builds nothing: expects build/spanvaultd and build/spanvault-bench
# (./setup.sh builds them). Exits 1 when a run failed or a daemon misbehaved.
set -euo pipefail
cd "$(dirname "$0")/.."

DAEMON=build/spanvaultd
BENCH=build/spanvault-bench
for b in "$DAEMON" "$BENCH"; do
  if [ ! -x "$b" ]; then
    echo "run.sh: $b not found; build first (./setup.sh)" >&2
    exit 1
  fi
done

SCALE=${SPANS_SCALE:-1}
if ! awk -v s="$SCALE" 'BEGIN { exit !(s + 0 > 0) }'; then
  echo "run.sh: SPANS_SCALE must be a positive number, got '$SCALE'" >&2
  exit 1
fi
UDP_RATE=${UDP_RATE:-100000}
MODES=${MODES:-process machine}
TRANSPORTS=${TRANSPORTS:-stream dgram udp otlp-proto otlp-json}
OTLP_BENCH=build/spanvault-otlp-bench
OTLP_SECONDS=${OTLP_SECONDS:-10}

scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); if (v < 1000) v = 1000; print v }'; }
STREAM_SPANS=$(scaled 1000000)
DGRAM_SPANS=$(scaled 500000)
UDP_SPANS=$(scaled 500000)

SCRIPT=run.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

# Daemon CPU seconds (utime + stime) from /proc/PID/stat.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# run_otlp TRANSPORT MODE HTTP_PORT: one OTLP/HTTP row (peak RSS since the
# daemon started: the earlier transports' peaks included).
run_otlp() {
  local transport=$1 mode=$2 hport=$3 enc=proto
  [ "$transport" = otlp-json ] && enc=json
  if [ ! -x "$OTLP_BENCH" ]; then
    echo "run.sh: $OTLP_BENCH not found; skipping $transport" >&2
    return 0
  fi
  local c0 c1 t0 t1 out rc=0
  c0=$(cpu_seconds "$DAEMON_PID"); t0=$(date +%s.%N)
  out=$("$OTLP_BENCH" "$hport" "$enc" "$OTLP_SECONDS" 2 512) || rc=$?
  c1=$(cpu_seconds "$DAEMON_PID"); t1=$(date +%s.%N)
  echo "run.sh: $transport: $out" >&2
  if [ "$rc" -ne 0 ]; then
    ROWS+=("| $transport | $mode | failed (exit $rc) | | | | | | |")
    STATUS=1
    return 0
  fi
  local rss
  rss=$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$DAEMON_PID/status")
  ROWS+=("$(echo "$out" | awk -v mode="$mode" -v t="$transport" -v secs="$OTLP_SECONDS" -v c0="$c0" -v c1="$c1" \
    -v t0="$t0" -v t1="$t1" -v rss="$rss" '
    function commas(n,   s) { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
    {
      for (i = 1; i <= NF; i++) { if ($(i + 1) == "spans/s,") rate = $i; if ($(i + 1) == "B/span):") bps = substr($i, 1) }
      gsub(/[(]/, "", bps)
      printf "| %s (batches of 512) | %s | %s | 2 | %s | %.1f | %d | %d | 0 (answered after durable) |", t, mode, commas(rate * secs), commas(rate), rate * bps / 1048576, 100 * (c1 - c0) / (t1 - t0), rss
    }')")
}

for mode in $MODES; do
  state="$TMP/state-$mode"
  run="$TMP/run-$mode"
  log="$TMP/daemon-$mode.log"
  mkdir -p "$state" "$run"
  port=$(free_udp_port)
  hport=$(free_tcp_port)

  # shellcheck disable=SC2086
  "$DAEMON" --state-dir "$state" --runtime-dir "$run" --udp "127.0.0.1:$port" --http "127.0.0.1:$hport" --log-level warn \
    --set buffer.durability="$mode" --set buffer.max_disk_bytes=16GiB ${DAEMON_ARGS:-} 2>"$log" &
  DAEMON_PID=$!

  # Wait (up to 10 s) for both sockets.
  ready=0
  for _ in $(seq 1 100); do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then break; fi
    if [ -S "$run/spans.sock" ] && [ -S "$run/spans.dgram" ]; then ready=1; break; fi
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "run.sh: spanvaultd ($mode) did not come up; its log:" >&2
    cat "$log" >&2 || true
    stop_daemon
    STATUS=1
    continue
  fi
  echo "run.sh: spanvaultd pid $DAEMON_PID, durability=$mode, runtime dir $run, udp 127.0.0.1:$port" >&2

  for transport in $TRANSPORTS; do
    case "$transport" in
      otlp-proto|otlp-json)
        run_otlp "$transport" "$mode" "$hport"
        continue ;;
    esac
    args=(--transport "$transport" --runtime-dir "$run" --pid "$DAEMON_PID" --markdown-row)
    case "$transport" in
      stream) args+=(--spans "$STREAM_SPANS" --connections 2) ;;
      dgram) args+=(--spans "$DGRAM_SPANS" --connections 1) ;;
      udp) args+=(--spans "$UDP_SPANS" --connections 1 --udp "127.0.0.1:$port" --rate "$UDP_RATE") ;;
      *) echo "run.sh: unknown transport $transport" >&2; STATUS=1; continue ;;
    esac
    rc=0
    row=$("$BENCH" "${args[@]}") || rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then
      ROWS+=("$row")
      [ "$rc" -eq 2 ] && STATUS=1
    else
      ROWS+=("| $transport | $mode | failed (exit $rc) | | | | | | |")
      STATUS=1
    fi
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      echo "run.sh: spanvaultd ($mode) died during the $transport run; its log:" >&2
      cat "$log" >&2 || true
      STATUS=1
      break
    fi
  done
  stop_daemon
  if [ -s "$log" ]; then
    echo "run.sh: spanvaultd ($mode) logged (warn and above):" >&2
    head -n 20 "$log" >&2
  fi
done

echo
echo "spanvault benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, SPANS_SCALE=$SCALE, net.unix.max_dgram_qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo '?')"
echo
echo "| transport | durability | spans sent | conns | spans/s | MiB/s | daemon CPU % | daemon peak RSS (MiB) | loss |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
exit "$STATUS"
