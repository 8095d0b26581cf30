// bench/bench.h — private to spanvault-bench (bench/*.cc except sink.cc).
//
// Contract: the pieces of the load generator shared between its files. The
// options (Options), the span pool every sender copies and patches (Pool,
// MakePool), the small time and number helpers, the Unix/UDP socket helpers,
// the $status client (StatusClient) and the /proc sampling of the daemon, a
// run's measurements (Result, DrainResult), the runs themselves (RunStream,
// RunDatagram, RunDrain, RunSinkOnly) and the three output formats of each
// (human line, Markdown row, JSON). Nothing here is thread-safe unless said
// so: each sender thread works on its own Pool copy and SenderResult, and a
// StatusClient belongs to one thread. Errors are returned as readable messages
// (`std::string* err`), never thrown on purpose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/sink.h"

namespace spanvault::bench {

using nlohmann::json;

constexpr size_t kStreamWriteBytes = 256u << 10;  // one write(2) of whole lines
constexpr size_t kDatagramBatch = 64;             // datagrams per sendmmsg(2)
constexpr size_t kMaxPoolSpans = 4096;
constexpr size_t kMaxPoolBytes = 16u << 20;  // per sender (each has its own copy)
constexpr size_t kMinSpanBytes = 256;
constexpr size_t kMaxSpanBytes = 1u << 20;         // the daemon's default line limit
constexpr size_t kMaxUdpSpanBytes = 65507;         // largest UDP payload over IPv4
constexpr size_t kMaxDgramSpanBytes = 256u << 10;  // the daemon's default datagram limit

// ---------------------------------------------------------------------------
// Small helpers (util.cc)

int64_t MonoNs();
void SleepUntilMono(int64_t ns);
double Seconds(int64_t ns);
std::string Errno(int e);
// 1234567 -> "1,234,567"
std::string Commas(uint64_t v);
std::string Fixed(double v, int decimals);

inline constexpr char kHex[] = "0123456789abcdef";

// The 16 lowercase hex digits of `v` at out[0..16) (no terminator). Inline:
// the senders call it once per span.
inline void WriteHex64(uint64_t v, char* out) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

// ---------------------------------------------------------------------------
// Options (parsed in bench.cc)

struct Options {
  std::string transport = "stream";
  std::string runtime_dir;
  std::string socket_path;
  std::string dgram_path;
  std::string udp = "127.0.0.1:4319";
  uint64_t spans = 100'000;
  int connections = 0;  // 0: 2 for stream, 1 otherwise
  double rate = 0;
  size_t span_bytes = 1024;
  int pid = 0;
  bool json = false;
  bool markdown_row = false;
  bool sample = false;
  double timeout_s = 120;
  double drain_timeout_s = 30;
  double settle_s = 2;
  uint64_t seed = 0;

  // Drain benchmark (forwarding to a local sink).
  std::string drain;            // "" | "live" | "backlog"
  double backlog_settle_s = 3;  // backlog: wait this long after the last span is durable
  bool sink_only = false;       // --sink: run the sink alone until SIGINT/SIGTERM
  int sink_port = -1;
  std::string upstream;  // "" = the daemon's first upstream
  int poll_interval_ms = 100;
  uint64_t verify_every = 50;
  std::string expect_gzip;  // "" | "on" | "off"
  uint64_t expect_batch = 0;
};

// ---------------------------------------------------------------------------
// Span generation (pool.cc)

// The spans one sender sends, laid out as NDJSON lines in one buffer so that a
// run of consecutive spans is one contiguous write. Each sender has its own
// copy: it patches span_id fields in place.
struct Pool {
  std::string data;               // span i is data[begin[i], begin[i+1]) including its '\n'
  std::vector<size_t> begin;      // size() == count + 1
  std::vector<size_t> id_offset;  // absolute offset of span i's span_id digits
  size_t count() const { return id_offset.size(); }
  size_t line_bytes(size_t i) const { return begin[i + 1] - begin[i]; }
};

// `count` distinct spans of about `target` bytes each, from `seed`.
Pool MakePool(size_t count, size_t target, uint64_t seed);

// ---------------------------------------------------------------------------
// Sockets, $status and /proc (daemon_client.cc)

// Connects a Unix socket of `type`; -1 and a readable message on failure.
int ConnectUnix(const std::string& path, int type, const char* what, std::string* err);
// Parses "HOST:PORT" or "[V6]:PORT" and connects a UDP socket to it.
int ConnectUdp(const std::string& hostport, std::string* err);
void SetSendTimeout(int fd, double seconds);
// Writes everything; false with a message on error or timeout (SO_SNDTIMEO).
bool WriteAll(int fd, const char* p, size_t n, double timeout_s, std::string* err);
// Reads one '\n'-terminated line (without it) within `timeout_s`.
bool ReadLine(int fd, std::string& buf, std::string* line, double timeout_s, std::string* err);

struct Counts {
  uint64_t received = 0;
  uint64_t received_bytes = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t kernel_drops = 0;
};

// o[key] as an unsigned count; 0 when missing, not a number or negative.
uint64_t U64(const json& o, const char* key);

// One connection to the daemon's stream socket for {"$status": true} queries.
class StatusClient {
 public:
  ~StatusClient();
  bool Open(const std::string& path, std::string* err);
  bool ok() const { return fd_ >= 0; }

  // One status query; nullopt with a message on failure.
  std::optional<json> Query(double timeout_s, std::string* err);

  static Counts Extract(const json& status, const std::string& transport);
  static std::string Durability(const json& status);

 private:
  int fd_ = -1;
  std::string buf_;
};

// utime + stime of `pid` in seconds; nullopt when unreadable.
std::optional<double> ProcessCpuSeconds(int pid);
// VmHWM (peak resident set) of `pid` in bytes.
std::optional<uint64_t> PeakRssBytes(int pid);
// VmRSS (current resident set) of `pid` in bytes.
std::optional<uint64_t> CurrentRssBytes(int pid);
// Resets the peak RSS of `pid` to its current RSS (Linux >= 4.0), so VmHWM
// after the run is the peak during the run.
bool ResetPeakRss(int pid);
double SelfCpuSeconds();

// ---------------------------------------------------------------------------
// Results and runs (senders.cc)

struct Result {
  std::string transport;
  std::string durability;  // from the daemon's status; "" when unknown
  uint64_t requested = 0;
  int connections = 0;
  double rate_target = 0;
  double avg_span_bytes = 0;

  uint64_t sent = 0;
  uint64_t bytes_sent = 0;
  bool accepted_known = false;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t daemon_received = 0;
  std::optional<uint64_t> kernel_drops;

  int64_t t_start = 0;                     // CLOCK_MONOTONIC of the first byte sent
  std::optional<double> daemon_cpu_start;  // the daemon's CPU seconds then
  double send_seconds = 0;                 // first byte .. last byte sent
  double wall_seconds = 0;                 // first byte .. last span accepted (barrier answer / last count change)

  std::optional<double> daemon_cpu_pct;
  std::optional<uint64_t> daemon_peak_rss;
  bool peak_rss_reset = false;
  double bench_cpu_pct = 0;

  std::vector<std::string> errors;  // rejections reported by the daemon
  std::vector<std::string> warnings;

  double spans_per_s() const { return wall_seconds > 0 ? static_cast<double>(accepted) / wall_seconds : 0; }
  double mib_per_s() const {
    return wall_seconds > 0 ? static_cast<double>(accepted) * avg_span_bytes / wall_seconds / (1024.0 * 1024.0) : 0;
  }
  double send_per_s() const { return send_seconds > 0 ? static_cast<double>(sent) / send_seconds : 0; }
  uint64_t lost() const { return accepted_known && sent > accepted ? sent - accepted : 0; }
  double loss_pct() const { return sent > 0 ? 100.0 * static_cast<double>(lost()) / static_cast<double>(sent) : 0; }
};

struct Context {
  Options opt;
  std::string stream_path;
  std::string dgram_path;
  Pool pool;
  uint64_t id_base = 0;
};

// --transport stream: sends opt.spans over opt.connections connections and
// waits for each one's $sync answer. 0, or 1 when a connection failed.
int RunStream(Context& ctx, StatusClient& status, Result& r);
// --transport dgram|udp: sends, then polls $status until the daemon has
// accepted everything or its count settles. 0, or 1 when a sender failed.
int RunDatagram(Context& ctx, StatusClient& status, Result& r);

// ---------------------------------------------------------------------------
// Drain (drain.cc)

struct UpstreamCounts {
  bool found = false;
  std::string name;
  uint64_t delivered_spans = 0;
  uint64_t delivered_batches = 0;
  uint64_t pending_spans = 0;
  uint64_t sent_bytes = 0;
  uint64_t failed_attempts = 0;
  uint64_t retries = 0;
  uint64_t splits = 0;
  uint64_t dead_lettered = 0;
  std::string last_error;
};

struct DrainResult {
  std::string scenario;  // live | backlog
  Result ingest;         // the stream run that sent the spans
  uint64_t target = 0;   // spans that had to be delivered: sent (live) or pending when the sink started (backlog)
  uint64_t delivered = 0;
  bool delivered_all = false;
  double deliver_seconds = 0;  // live: first byte .. all delivered; backlog: sink start .. all delivered
  double lag_seconds = 0;      // live: last span durable .. all delivered
  std::optional<double> daemon_cpu_pct;
  std::optional<uint64_t> daemon_peak_rss;
  bool peak_rss_reset = false;
  uint64_t max_rss_sampled = 0;
  UpstreamCounts before;  // when the measured window started
  UpstreamCounts after;
  SinkStats sink;
  std::vector<std::string> problems;  // each makes the run fail (exit 2)
  std::vector<std::string> warnings;

  double delivered_per_s() const { return deliver_seconds > 0 ? static_cast<double>(delivered) / deliver_seconds : 0; }
};

// --drain live|backlog: runs the sink and a stream run, fills `d`. 1 when the
// run could not be made; 0 otherwise (d.problems says whether it passed).
int RunDrain(Context& ctx, StatusClient& status, DrainResult& d);
// --sink: serve until SIGINT or SIGTERM; prints the port, then the counts.
int RunSinkOnly(const Options& opt);

// ---------------------------------------------------------------------------
// Output (output.cc)

std::string HumanLine(const Result& r);
std::string MarkdownRow(const Result& r);
json ToJson(const Result& r);
std::string DrainHumanLine(const Options& opt, const DrainResult& d);
std::string DrainMarkdownRow(const Options& opt, const DrainResult& d);
json DrainToJson(const Options& opt, const DrainResult& d);

}  // namespace spanvault::bench
