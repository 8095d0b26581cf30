// config/ — configuration: defaults, the TOML file, SPANVAULT_* environment
// variables and command-line flags, applied in that order, each overriding
// the previous. Every key has one entry in a table (config.cc) that parses it
// from text, so the file, the environment and `--set` accept the same values
// and `--check-config` reports every problem at once.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "buffer/span_queue.h"
#include "common/error.h"
#include "config/upstream_config.h"

namespace spanvault::daemon {

struct IngestConfig {
  // Default: "spans.sock" in runtime_dir; "off" disables.
  std::string unix_stream = "spans.sock";
  // Default: "spans.dgram" in runtime_dir; "off" disables.
  std::string unix_dgram = "spans.dgram";
  // Default: "127.0.0.1:4319"; "off" disables.
  std::string udp = "127.0.0.1:4319";
  // Default: false. Non-loopback network addresses are refused unless true.
  bool allow_remote = false;
  // Default: 1 MiB (stream lines and, later, HTTP bodies).
  uint64_t max_span_bytes = 1u << 20;
  // Default: 64 KiB.
  uint64_t max_udp_datagram_bytes = 64u << 10;
  // Default: 256 KiB.
  uint64_t max_unix_datagram_bytes = 256u << 10;
  // Default: 64.
  uint32_t max_depth = 64;
  // Default: 32 MiB, asked for each datagram socket (the kernel may grant less
  // unless the daemon runs as root: see net.core.rmem_max).
  uint64_t receive_buffer_bytes = 32u << 20;
  // Default: 1024 concurrent stream connections (admin peers have 16 more).
  uint64_t max_connections = 1024;
  // Default: 256 stream connections per peer uid (root and the daemon's own
  // uid are not capped).
  uint64_t max_connections_per_uid = 256;
  // Default: 5m. A stream connection that sends nothing for this long is
  // closed (0s: never).
  std::chrono::milliseconds stream_idle_timeout{300000};
  // Default: 64 MiB. Bytes all listeners together hold on their way to the
  // store (decoded spans, HTTP bodies being decoded). When spent, stream
  // reads pause, HTTP answers 503 + Retry-After, datagrams are dropped and
  // counted. 0: no bound.
  uint64_t max_inflight_bytes = 64u << 20;
  // Default: "" (none). Members of this group may send admin control lines
  // ($reload, $salvage, $dead_letter, $prices reload) besides root and the
  // daemon's own uid.
  std::string admin_group;
  // Default: 128 (the OpenTelemetry SDKs' limit). OTLP attributes kept per
  // span, resource, scope, event and link; the rest are dropped and counted.
  uint32_t max_attributes = 128;
  // Default: 0 (no limit). Longer OTLP string attribute values are cut.
  uint64_t max_attribute_value_bytes = 0;
  // Default: 0660.
  unsigned socket_mode = 0660;
  // Default: "127.0.0.1:4318" (OTLP/HTTP's port); "off" disables.
  std::string http = "127.0.0.1:4318";
  // Default: 16 MiB. Largest HTTP request body, as sent and once inflated.
  uint64_t max_http_body_bytes = 16u << 20;
  // Default: 10s. From the first byte of a request to the end of its header.
  std::chrono::milliseconds http_header_timeout{10000};
  // Default: 60s. A kept-alive HTTP connection without a new request is closed.
  std::chrono::milliseconds http_idle_timeout{60000};
  // Default: 30s. Reading one request body; writing one answer.
  std::chrono::milliseconds http_body_timeout{30000};
  // Default: 1024 concurrent HTTP connections; more are closed at once.
  uint64_t http_max_connections = 1024;
  // Default: 1000. Requests served on one kept-alive HTTP connection; the
  // answer to the last one carries Connection: close.
  uint64_t http_max_requests_per_connection = 1000;
  // Default: none. Origins ("scheme://host[:port]", or "*" for any) whose
  // browser pages may send requests to the HTTP listener and read the answers
  // (CORS); requests with any other Origin are refused (ipc/http_policy.h).
  // Stored normalized (ipc::NormalizeOrigin).
  std::vector<std::string> http_allowed_origins;
};

// `[local]`: the local query API (docs/api.md). Its retention and disk
// bound are buffer::Options fields (retention, local_max_disk_bytes).
struct LocalConfig {
  // Default: true. Serve /api/... and the trace explorer on the HTTP
  // listener, and the query control lines on the stream socket (only while
  // local.retention > 0).
  bool api = true;
};

struct Config {
  std::filesystem::path state_dir;    // default: see DefaultStateDir()
  std::filesystem::path runtime_dir;  // default: see DefaultRuntimeDir()
  std::string log_level = "info";     // debug | info | warn | error
  // Default: 0 = 2 I/O threads (listeners and decoding); RocksDB writes
  // happen on the buffer's own writer thread.
  uint32_t io_threads = 0;
  IngestConfig ingest;
  // buffer.dir is derived: state_dir/buffer. The daemon keeps spans for
  // local viewing by default (local.retention, 7 days); the library's
  // default is off.
  buffer::Options buffer = [] {
    buffer::Options o;
    o.retention = std::chrono::hours(24 * 7);
    return o;
  }();
  LocalConfig local;  // local.retention, local.max_disk_bytes: in `buffer`
  // Default: none. `price_tables`: user price tables, before the built-in
  // one: paths to spanvault price files (.json/.toml) or "litellm:/path.json".
  // Reloaded on SIGHUP (a changed list applies too: daemon/reload.h).
  std::vector<std::string> price_tables;
  // Default: none. `[[upstream]]` tables (docs/forwarding.md); only from the file.
  // A reload applies changes live (daemon/reload.h).
  std::vector<upstream::UpstreamConfig> upstreams;
  // Default: 5s. On SIGTERM (and for forwarders a reload stops), how long
  // requests in flight may still finish.
  std::chrono::milliseconds shutdown_grace{5000};
  // Default: 2. Threads that encode, compress and send to the upstreams.
  uint32_t upstream_threads = 2;
  // Default: none. `[[processor]]` tables (docs/processors.md); only from the
  // file. Upstreams name them in their `processors` list.
  std::vector<process::ProcessorConfig> processor_defs;
  // Default: none. `processors`: [[processor]] names applied in order at
  // ingest, before the store (docs/processors.md). Reloaded live.
  std::vector<std::string> processors;

  // Every problem, one message each; empty when valid.
  std::vector<std::string> Validate() const;
  // Resolves a socket setting against runtime_dir ("" when "off").
  std::string SocketPath(const std::string& setting) const;
};

// /var/lib/spanvault as root; else $XDG_STATE_HOME/spanvault when set, else
// ./spanvault-data/state.
std::filesystem::path DefaultStateDir();
// /run/spanvault as root; else $XDG_RUNTIME_DIR/spanvault when set, else
// ./spanvault-data/run.
std::filesystem::path DefaultRuntimeDir();

struct LoadOptions {
  std::string config_file;        // "" = none
  std::vector<std::string> sets;  // "section.key=value" from --set and flags
  bool use_environment = true;    // apply SPANVAULT_* variables
};

// Defaults, then the file, then the environment, then `sets`. Returns the
// config and, in `problems`, every error found (unknown keys, bad values,
// Validate()). The config is usable only when `problems` is empty.
Config LoadConfig(const LoadOptions& options, std::vector<std::string>* problems);

// One line per key: "section.key = value  (default ...)"; for --help texts
// and the README.
std::string DescribeKeys();

// One key of the table as the configuration reference shows it.
struct KeyDoc {
  std::string name;          // as in --set: "state_dir", "ingest.udp"
  std::string toml_default;  // the default as a TOML value ("\"1MiB\"", "64", "[]");
                             // state_dir and runtime_dir: root's (the package's)
  std::string comment;       // lines separated by '\n'
  std::string help;          // the line --help shows
};
// Every key, in the table's order, with its default and comment.
std::vector<KeyDoc> KeyDocs();

enum class ReferenceFormat { kMarkdown, kToml };
// The whole of docs/configuration.md (kMarkdown) or etc/spanvault.toml
// (kToml), generated from KeyDocs() and upstream::UpstreamKeyDocs() around
// fixed prose (config_reference.cc); `spanvaultd
// --print-config-reference=md|toml` prints it, and a test compares both
// committed files with it.
std::string ConfigReference(ReferenceFormat format);

// Copies into each upstream's processor_defs the [[processor]] definitions
// its `processors` list names (LoadConfig calls it; unknown names are left
// for Validate to report).
void ResolveProcessors(Config& config);

// The keys (as named in the file: "state_dir", "ingest.udp") whose values
// differ between `a` and `b`, in table order. The [[upstream]] tables are not
// keys: daemon/reload.h compares them by name.
std::vector<std::string> ChangedKeys(const Config& a, const Config& b);

}  // namespace spanvault::daemon
