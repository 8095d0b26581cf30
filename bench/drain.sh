#!/usr/bin/env bash
# Runs the spanvault drain (forwarding) benchmark: for each upstream format,
# scenario, gzip setting and batch size starts a fresh spanvaultd with one
# [[upstream]] pointing at spanvault-bench's HTTP sink on 127.0.0.1, sends
# spans over the stream socket with `spanvault-bench --drain`, stops the
# daemon and prints a Markdown table.
#
#   bench/drain.sh                          # full matrix, 1,000,000 spans per run
#   SPANS_SCALE=0.1 bench/drain.sh          # quick: a tenth of the spans
#   BUILD_DIR=build-bench SCENARIOS=backlog bench/drain.sh
#
# Scenarios:
#   live      the sink is up while the bench sends at full speed: ingest and
#             delivery run at the same time
#   backlog   the sink is down (connection refused) while the spans are sent
#             and made durable; then it starts: catch-up time of the backlog
#
# Environment:
#   SPANS_SCALE      multiplies the span count (default 1: 1,000,000 per run)
#   FORMATS          upstream formats (default "json"; also otlp-proto,
#                    otlp-json, langfuse-ingestion, braintrust-logs: the
#                    export rate of each encoder; the sink checks every 50th
#                    body in its format)
#   DIALECT          the dialect of the OTLP formats (default otel)
#   SCENARIOS        default "live backlog"
#   GZIP             live runs: gzip settings (default "on off")
#   BATCHES          live runs: batch_max_spans values (default "100 512 2000")
#   BACKLOG_GZIP     backlog runs: gzip settings (default "on")
#   BACKLOG_BATCHES  backlog runs: batch_max_spans values (default "512")
#   RETRY_INITIAL    the upstream's retry.initial (default 50ms)
#   RETRY_MAX        the upstream's retry.max (default 200ms)
#   UPSTREAM_EXTRA   extra lines for the [[upstream]] table (e.g. "concurrency = 8")
#   DAEMON_ARGS      extra spanvaultd arguments (e.g. "--set buffer.durability=machine")
#   BENCH_ARGS       extra spanvault-bench arguments (e.g. "--poll-interval 50")
#   BUILD_DIR        where spanvaultd and spanvault-bench are (default build)
#   KEEP_TMP=1       keep the temporary directories (configs, daemon logs, state)
#
# Builds nothing. Exits 1 when a run failed, not every span was delivered, the
# sink saw a bad request, or a daemon did not stop cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
DAEMON=$BUILD_DIR/spanvaultd
BENCH=$BUILD_DIR/spanvault-bench
for b in "$DAEMON" "$BENCH"; do
  if [ ! -x "$b" ]; then
    echo "drain.sh: $b not found; build first (./setup.sh, or set BUILD_DIR)" >&2
    exit 1
  fi
done

SCALE=${SPANS_SCALE:-1}
if ! awk -v s="$SCALE" 'BEGIN { exit !(s + 0 > 0) }'; then
  echo "drain.sh: SPANS_SCALE must be a positive number, got '$SCALE'" >&2
  exit 1
fi
SPANS=$(awk -v s="$SCALE" 'BEGIN { v = int(1000000 * s); if (v < 1000) v = 1000; print v }')
SCENARIOS=${SCENARIOS:-live backlog}
FORMATS=${FORMATS:-json}
DIALECT=${DIALECT:-otel}
GZIP=${GZIP:-on off}
BATCHES=${BATCHES:-100 512 2000}
BACKLOG_GZIP=${BACKLOG_GZIP:-on}
BACKLOG_BATCHES=${BACKLOG_BATCHES:-512}
RETRY_INITIAL=${RETRY_INITIAL:-50ms}
RETRY_MAX=${RETRY_MAX:-200ms}

SCRIPT=drain.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

# upstream_lines FORMAT: the [[upstream]] lines a format needs besides the sink's port.
upstream_lines() {
  case "$1" in
    json) echo 'path="/v1/spans"' ;;
    otlp-proto|otlp-json)
      echo "path=\"/v1/traces\""
      echo "dialect = \"$DIALECT\""
      if [ "$DIALECT" = langfuse ]; then echo 'public_key = "pk"'; echo 'secret_key = "sk"'; fi
      if [ "$DIALECT" = braintrust ]; then echo 'api_key = "k"'; echo 'parent = "project_id:bench"'; fi
      if [ "$DIALECT" = brokle ]; then echo 'api_key = "k"'; fi ;;
    langfuse-ingestion) echo 'path="/api/public/ingestion"'; echo 'public_key = "pk"'; echo 'secret_key = "sk"' ;;
    braintrust-logs) echo 'path="/v1/project_logs/bench/insert"'; echo 'api_key = "k"' ;;
    *) return 1 ;;
  esac
}

# run_one FORMAT SCENARIO GZIP BATCH
run_one() {
  local format=$1 scenario=$2 gzip=$3 batch=$4
  local tag="$format-$scenario-gzip$gzip-b$batch"
  local lines path
  if ! lines=$(upstream_lines "$format"); then
    echo "drain.sh: unknown format $format" >&2
    STATUS=1
    return 0
  fi
  path=$(echo "$lines" | sed -n 's/^path="\(.*\)"$/\1/p')
  lines=$(echo "$lines" | grep -v '^path=' || true)
  local dir="$TMP/$tag"
  local log="$dir/daemon.log" conf="$dir/spanvaultd.toml"
  local port gz
  mkdir -p "$dir/state" "$dir/run"
  port=$(free_tcp_port)
  gz=$([ "$gzip" = on ] && echo true || echo false)
  cat >"$conf" <<EOF
state_dir = "$dir/state"
runtime_dir = "$dir/run"
log_level = "warn"

[ingest]
udp = "off"

[buffer]
max_disk_bytes = "16GiB"

[[upstream]]
name = "sink"
endpoint = "http://127.0.0.1:$port$path"
format = "$format"
$lines
batch_max_spans = $batch
gzip = $gz
${UPSTREAM_EXTRA:-}

[upstream.retry]
initial = "$RETRY_INITIAL"
max = "$RETRY_MAX"
EOF

  # shellcheck disable=SC2086
  "$DAEMON" --config "$conf" ${DAEMON_ARGS:-} 2>"$log" &
  DAEMON_PID=$!
  local ready=0
  for _ in $(seq 1 100); do  # up to 10 s
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then break; fi
    if [ -S "$dir/run/spans.sock" ]; then ready=1; break; fi
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "drain.sh: spanvaultd ($tag) did not come up; its log:" >&2
    cat "$log" >&2 || true
    stop_daemon
    ROWS+=("| $format | $scenario | $gzip | $batch | failed (daemon did not start) | | | | | |")
    STATUS=1
    return 0
  fi
  echo "drain.sh: $tag: spanvaultd pid $DAEMON_PID, sink port $port, $SPANS spans" >&2

  local rc=0 row
  # shellcheck disable=SC2086
  row=$("$BENCH" --drain "$scenario" --runtime-dir "$dir/run" --sink-port "$port" --pid "$DAEMON_PID" \
    --spans "$SPANS" --connections 2 --expect-gzip "$gzip" --expect-batch "$batch" --drain-timeout 1800 \
    --markdown-row ${BENCH_ARGS:-}) || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then
    ROWS+=("| $format $row")
    [ "$rc" -eq 2 ] && STATUS=1
  else
    ROWS+=("| $format | $scenario | $gzip | $batch | failed (exit $rc) | | | | | |")
    STATUS=1
  fi
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    echo "drain.sh: spanvaultd ($tag) died during the run; its log:" >&2
    cat "$log" >&2 || true
    STATUS=1
  fi
  stop_daemon
  if [ -s "$log" ]; then
    # Refused connections while the backlog is built are expected.
    local n
    n=$(wc -l <"$log")
    echo "drain.sh: spanvaultd ($tag) logged $n lines (warn and above); the first:" >&2
    head -n 10 "$log" >&2
  fi
}

for format in $FORMATS; do
for scenario in $SCENARIOS; do
  case "$scenario" in
    live) gzips=$GZIP; batches=$BATCHES ;;
    backlog) gzips=$BACKLOG_GZIP; batches=$BACKLOG_BATCHES ;;
    *) echo "drain.sh: unknown scenario $scenario (live, backlog)" >&2; STATUS=1; continue ;;
  esac
  for gzip in $gzips; do
    case "$gzip" in on|off) ;; *) echo "drain.sh: gzip must be on or off, got $gzip" >&2; STATUS=1; continue ;; esac
    for batch in $batches; do
      run_one "$format" "$scenario" "$gzip" "$batch"
    done
  done
done
done

echo
echo "spanvault drain benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, SPANS_SCALE=$SCALE"
echo
echo "| format | scenario | gzip | batch_max_spans | spans | ingest spans/s | delivered spans/s | catch-up s | daemon CPU % | daemon peak RSS MiB |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${ROWS[@]}"; do echo "$r"; done
exit "$STATUS"
