#include "config/config.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "common/log.h"
#include "common/toml_text.h"
#include "common/util.h"
#include "config/processor_table.h"
#include "ipc/http_policy.h"
#include "ipc/peer_cred.h"
#include "ipc/unix_socket.h"

namespace spanvault::daemon {
namespace {

using Setter = std::function<std::string(Config&, std::string_view)>;
using Getter = std::function<std::string(const Config&)>;

// How a value is written in TOML (the config reference shows defaults so).
enum class Kind { kString, kUint, kSize, kDuration, kBool, kList };

struct KeyDef {
  std::string name;  // "state_dir", "buffer.max_age"
  std::string help;  // one line, for --help
  Setter set;
  Getter get;
  Kind kind = Kind::kString;
  // What docs/configuration.md and etc/spanvault.toml show beside the key,
  // lines separated by '\n' (KeyDocs(), config_reference.cc).
  std::string comment = {};

  KeyDef Doc(std::string c) && {
    comment = std::move(c);
    return std::move(*this);
  }
};

// The defaults when running as root (the package's); the reference shows them.
constexpr char kRootStateDir[] = "/var/lib/spanvault";
constexpr char kRootRuntimeDir[] = "/run/spanvault";

std::string Bad(std::string_view what, std::string_view value, std::string_view expected) {
  return std::string(what) + ": \"" + std::string(value) + "\" is not " + std::string(expected);
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

KeyDef PathKey(std::string name, std::string help, std::filesystem::path Config::*member) {
  return {name, help,
          [member](Config& c, std::string_view v) -> std::string {
            if (v.empty()) return "must not be empty";
            c.*member = std::filesystem::path(std::string(v));
            return {};
          },
          [member](const Config& c) { return (c.*member).string(); }, Kind::kString};
}

template <typename Field>
KeyDef SizeKey(std::string name, std::string help, Field field) {
  return {name, help,
          [field](Config& c, std::string_view v) -> std::string {
            auto n = ParseSize(v);
            if (!n) return Bad("value", v, "a size like 1GiB, 512MiB or a byte count");
            field(c) = *n;
            return {};
          },
          [field](const Config& c) { return std::to_string(field(const_cast<Config&>(c))); }, Kind::kSize};
}

template <typename Field>
KeyDef DurationKey(std::string name, std::string help, Field field) {
  return {name, help,
          [field](Config& c, std::string_view v) -> std::string {
            auto d = ParseDuration(v);
            if (!d) return Bad("value", v, "a duration like 500ms, 1s, 5m, 7d");
            field(c) = *d;
            return {};
          },
          [field](const Config& c) { return FormatDuration(field(const_cast<Config&>(c))); }, Kind::kDuration};
}

template <typename Field>
KeyDef UintKey(std::string name, std::string help, Field field) {
  return {name, help,
          [field](Config& c, std::string_view v) -> std::string {
            auto n = ParseUint(v);
            if (!n || *n > 0xffffffffull) return Bad("value", v, "a non-negative integer");
            field(c) = static_cast<std::remove_reference_t<decltype(field(c))>>(*n);
            return {};
          },
          [field](const Config& c) { return std::to_string(field(const_cast<Config&>(c))); }, Kind::kUint};
}

template <typename Field>
KeyDef StringKey(std::string name, std::string help, Field field) {
  return {name, help,
          [field](Config& c, std::string_view v) -> std::string {
            field(c) = std::string(v);
            return {};
          },
          [field](const Config& c) { return field(const_cast<Config&>(c)); }};
}

// A list: a TOML array of strings in the file (ApplyTable joins it with
// commas), comma-separated in the environment and --set. Items are trimmed;
// empty ones are skipped. `check` returns the item to store, or "" with
// `*error` set.
template <typename Field>
KeyDef ListKey(std::string name, std::string help, Field field,
               std::function<std::string(std::string_view item, std::string* error)> check = nullptr) {
  return {name, help,
          [field, check](Config& c, std::string_view v) -> std::string {
            std::vector<std::string> items;
            size_t start = 0;
            while (start <= v.size()) {
              size_t comma = v.find(',', start);
              if (comma == std::string_view::npos) comma = v.size();
              std::string_view item = v.substr(start, comma - start);
              while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
              while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
              start = comma + 1;
              if (item.empty()) continue;
              if (!check) {
                items.emplace_back(item);
                continue;
              }
              std::string error;
              std::string checked = check(item, &error);
              if (!error.empty()) return error;
              items.push_back(std::move(checked));
            }
            field(c) = std::move(items);
            return {};
          },
          [field](const Config& c) {
            std::string out;
            for (const auto& t : field(const_cast<Config&>(c))) out += (out.empty() ? "" : ",") + t;
            return out.empty() ? std::string("[]") : out;
          },
          Kind::kList};
}

const std::vector<KeyDef>& Keys() {
  static const std::vector<KeyDef> keys = [] {
    std::vector<KeyDef> k;
    k.push_back(PathKey("state_dir", "where the buffer lives", &Config::state_dir)
                    .Doc("the RocksDB buffer lives in state_dir/buffer;\n"
                         "non-root: $XDG_STATE_HOME/spanvault or ./spanvault-data/state"));
    k.push_back(PathKey("runtime_dir", "where the Unix sockets are created", &Config::runtime_dir)
                    .Doc("the Unix sockets;\n"
                         "non-root: $XDG_RUNTIME_DIR/spanvault or ./spanvault-data/run"));
    k.push_back(StringKey(
                    "log_level", "debug | info | warn | error", [](Config & c) -> auto& { return c.log_level; })
                    .Doc("debug | info | warn | error (flag --log-level)"));
    k.push_back(UintKey(
                    "io_threads", "I/O threads (0 = 2)", [](Config & c) -> auto& { return c.io_threads; })
                    .Doc("listener/decoder threads; 0 = 2"));
    k.push_back(StringKey(
                    "ingest.unix_stream", "NDJSON stream socket, relative to runtime_dir, or off",
                    [](Config & c) -> auto& { return c.ingest.unix_stream; })
                    .Doc("NDJSON; relative to runtime_dir, an absolute path, or \"off\""));
    k.push_back(StringKey(
                    "ingest.unix_dgram", "datagram socket, relative to runtime_dir, or off",
                    [](Config & c) -> auto& { return c.ingest.unix_dgram; })
                    .Doc("one JSON value per datagram; relative to runtime_dir, absolute, or \"off\""));
    k.push_back(StringKey(
                    "ingest.udp", "UDP ADDR:PORT, or off", [](Config & c) -> auto& { return c.ingest.udp; })
                    .Doc("ADDR:PORT or \"off\" (flag --udp)"));
    k.push_back(KeyDef{"ingest.allow_remote", "allow non-loopback network addresses",
                       [](Config& c, std::string_view v) -> std::string {
                         auto b = ParseBool(v);
                         if (!b) return Bad("value", v, "true or false");
                         c.ingest.allow_remote = *b;
                         return {};
                       },
                       [](const Config& c) { return std::string(c.ingest.allow_remote ? "true" : "false"); },
                       Kind::kBool}
                    .Doc("allow non-loopback network addresses (udp, http)"));
    k.push_back(SizeKey(
                    "ingest.max_span_bytes", "largest stream line / HTTP span payload",
                    [](Config & c) -> auto& { return c.ingest.max_span_bytes; })
                    .Doc("longest stream line"));
    k.push_back(SizeKey(
                    "ingest.max_udp_datagram_bytes", "largest UDP datagram",
                    [](Config & c) -> auto& { return c.ingest.max_udp_datagram_bytes; })
                    .Doc("largest UDP datagram"));
    k.push_back(SizeKey(
                    "ingest.max_unix_datagram_bytes", "largest Unix datagram",
                    [](Config & c) -> auto& { return c.ingest.max_unix_datagram_bytes; })
                    .Doc("largest Unix datagram"));
    k.push_back(UintKey(
                    "ingest.max_depth", "deepest JSON nesting", [](Config & c) -> auto& { return c.ingest.max_depth; })
                    .Doc("JSON nesting"));
    k.push_back(SizeKey(
                    "ingest.receive_buffer_bytes", "kernel receive buffer asked for datagram sockets",
                    [](Config & c) -> auto& { return c.ingest.receive_buffer_bytes; })
                    .Doc("asked for each datagram socket"));
    k.push_back(UintKey(
                    "ingest.max_connections", "concurrent stream connections",
                    [](Config & c) -> auto& { return c.ingest.max_connections; })
                    .Doc("concurrent stream connections (+16 for admin peers)"));
    k.push_back(UintKey(
                    "ingest.max_connections_per_uid",
                    "concurrent stream connections of one peer uid (root and ours uncapped)",
                    [](Config & c) -> auto& { return c.ingest.max_connections_per_uid; })
                    .Doc("stream connections of one peer uid (root, our uid: uncapped)"));
    k.push_back(DurationKey(
                    "ingest.stream_idle_timeout",
                    "a stream connection that sends nothing for this long is closed (0s: never)",
                    [](Config & c) -> auto& { return c.ingest.stream_idle_timeout; })
                    .Doc("a stream connection silent this long is closed (\"0s\": never)"));
    k.push_back(
        SizeKey(
            "ingest.max_inflight_bytes",
            "bytes all listeners hold on their way to the store; when spent, reads pause, HTTP answers 503, datagrams "
            "are dropped (0: no bound)",
            [](Config & c) -> auto& { return c.ingest.max_inflight_bytes; })
            .Doc("held by all listeners on the way to the store; when spent: stream\n"
                 "reads pause, HTTP 503 + Retry-After, datagrams dropped (\"busy\"); 0: no bound"));
    k.push_back(StringKey(
                    "ingest.admin_group", "group whose members may send admin control lines (besides root and our uid)",
                    [](Config & c) -> auto& { return c.ingest.admin_group; })
                    .Doc("members may send admin control lines ($reload, $salvage, $dead_letter)\n"
                         "besides root and our uid (docs/security.md)"));
    k.push_back(UintKey(
                    "ingest.max_attributes", "OTLP attributes kept per span, resource, scope, event and link (0: all)",
                    [](Config & c) -> auto& { return c.ingest.max_attributes; })
                    .Doc("OTLP attributes per span/resource/scope/event/link"));
    k.push_back(SizeKey(
                    "ingest.max_attribute_value_bytes", "longer OTLP string attribute values are cut (0: no limit)",
                    [](Config & c) -> auto& { return c.ingest.max_attribute_value_bytes; })
                    .Doc("cut longer OTLP string values (0: no limit)"));
    k.push_back(KeyDef{
        "ingest.socket_mode", "file mode of the Unix sockets (octal)",
        [](Config& c, std::string_view v) -> std::string {
          unsigned m = 0;
          auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), m, 8);
          if (ec != std::errc() || p != v.data() + v.size() || m > 0777) {
            return Bad("value", v, "an octal file mode like 0660");
          }
          c.ingest.socket_mode = m;
          return {};
        },
        [](const Config& c) {
          char b[8];
          std::snprintf(b, sizeof b, "0%o", c.ingest.socket_mode);
          return std::string(b);
        }}.Doc("file mode of the Unix sockets (octal)"));
    k.push_back(StringKey(
                    "ingest.http",
                    "HTTP listener ADDR:PORT (OTLP/HTTP, /v1/spans, /healthz, /readyz, /metrics), or off",
                    [](Config & c) -> auto& { return c.ingest.http; })
                    .Doc("HTTP listener ADDR:PORT or \"off\" (flag --http)"));
    k.push_back(SizeKey(
                    "ingest.max_http_body_bytes", "largest HTTP request body, as sent and once inflated (413 beyond)",
                    [](Config & c) -> auto& { return c.ingest.max_http_body_bytes; })
                    .Doc("as sent and once inflated (413 beyond)"));
    k.push_back(DurationKey(
                    "ingest.http_header_timeout", "time allowed for an HTTP request header to arrive",
                    [](Config & c) -> auto& { return c.ingest.http_header_timeout; })
                    .Doc("from a request's first byte to the end of its header"));
    k.push_back(DurationKey(
                    "ingest.http_idle_timeout", "a kept-alive HTTP connection without a request is closed after this",
                    [](Config & c) -> auto& { return c.ingest.http_idle_timeout; })
                    .Doc("a kept-alive connection without a new request is closed"));
    k.push_back(DurationKey(
                    "ingest.http_body_timeout", "time allowed to read an HTTP request body, and to write an answer",
                    [](Config & c) -> auto& { return c.ingest.http_body_timeout; })
                    .Doc("reading a body, writing an answer"));
    k.push_back(UintKey(
                    "ingest.http_max_connections", "concurrent HTTP connections (more are closed at once)",
                    [](Config & c) -> auto& { return c.ingest.http_max_connections; })
                    .Doc("concurrent HTTP connections; more are closed at once"));
    k.push_back(UintKey(
                    "ingest.http_max_requests_per_connection",
                    "requests served on one kept-alive HTTP connection (the last answer carries Connection: close)",
                    [](Config & c) -> auto& { return c.ingest.http_max_requests_per_connection; })
                    .Doc("the last answer carries Connection: close"));
    k.push_back(
        ListKey(
            "ingest.http_allowed_origins",
            "browser origins (scheme://host[:port], or *) allowed to send HTTP requests and read the answers (CORS); a "
            "TOML array, comma-separated elsewhere",
            [](Config & c) -> auto& { return c.ingest.http_allowed_origins; },
            [](std::string_view item, std::string* error) -> std::string {
              auto o = ipc::NormalizeOrigin(item);
              if (!o) {
                *error = o.error().message;
                return {};
              }
              return *o;
            })
            .Doc("browser origins allowed to send (CORS), e.g. [\"http://localhost:3000\"];\n"
                 "\"scheme://host[:port]\", no path; \"*\" = any; comma-separated in env / --set;\n"
                 "others (and DNS-rebound Hosts) are refused: docs/security.md"));
    k
        .push_back(KeyDef{
            "buffer.durability", "process (fsync every fsync_interval) | machine (fsync before every answer)",
            [](Config& c, std::string_view v) -> std::string {
              if (v == "process") {
                c.buffer.durability = buffer::Durability::kProcess;
              } else if (v == "machine") {
                c.buffer.durability = buffer::Durability::kMachine;
              } else {
                return Bad("value", v, "\"process\" or \"machine\"");
              }
              return {};
            },
            [](const Config& c) {
              return std::string(c.buffer.durability == buffer::Durability::kMachine ? "machine" : "process");
            }}.Doc("\"process\": WAL written before any answer, fsynced every fsync_interval\n"
                   "\"machine\": WAL fsynced before any answer"));
    k.push_back(DurationKey(
                    "buffer.fsync_interval", "WAL fsync period in process mode",
                    [](Config & c) -> auto& { return c.buffer.fsync_interval; })
                    .Doc("process mode"));
    k.push_back(SizeKey(
                    "buffer.max_disk_bytes", "bound on buffered span bytes",
                    [](Config & c) -> auto& { return c.buffer.max_disk_bytes; })
                    .Doc("at the bound, on_full applies; less when the filesystem holds less\n"
                         "(status: effective_max_bytes)"));
    k.push_back(SizeKey(
                    "buffer.disk_reserve_bytes",
                    "disk space kept in reserve for a full disk (at most 1/8 of it; 0: none)",
                    [](Config & c) -> auto& { return c.buffer.disk_reserve_bytes; })
                    .Doc("kept in STATE_DIR/buffer/RESERVE, released when the disk is full\n"
                         "(at most 1/8 of the filesystem; 0 = none): docs/durability.md"));
    k.push_back(DurationKey(
                    "buffer.max_age", "older spans are dropped", [](Config & c) -> auto& { return c.buffer.max_age; })
                    .Doc("older spans are dropped"));
    k.push_back(KeyDef{"buffer.on_full", "drop_oldest | reject",
                       [](Config& c, std::string_view v) -> std::string {
                         if (v == "drop_oldest" || v == "drop") {
                           c.buffer.on_full = buffer::OnFull::kDropOldest;
                         } else if (v == "reject") {
                           c.buffer.on_full = buffer::OnFull::kReject;
                         } else {
                           return Bad("value", v, "\"drop_oldest\" or \"reject\"");
                         }
                         return {};
                       },
                       [](const Config& c) {
                         return std::string(c.buffer.on_full == buffer::OnFull::kReject ? "reject" : "drop_oldest");
                       }}
                    .Doc("\"drop_oldest\": the oldest spans are dropped (counted, logged)\n"
                         "\"reject\": new spans are refused instead"));
    k.push_back(UintKey(
                    "buffer.quarantine_max_entries", "rejected payloads kept",
                    [](Config & c) -> auto& { return c.buffer.quarantine_max_entries; })
                    .Doc("rejected payloads kept"));
    k.push_back(SizeKey(
                    "buffer.quarantine_max_bytes", "bytes of rejected payloads kept",
                    [](Config & c) -> auto& { return c.buffer.quarantine_max_bytes; })
                    .Doc("bytes of rejected payloads kept"));
    k.push_back(UintKey(
                    "buffer.dead_letter_max_entries", "spans refused for good by an upstream, kept",
                    [](Config & c) -> auto& { return c.buffer.dead_letter_max_entries; })
                    .Doc("spans refused for good by an upstream, kept"));
    k.push_back(SizeKey(
                    "buffer.dead_letter_max_bytes", "bytes of dead letters kept",
                    [](Config & c) -> auto& { return c.buffer.dead_letter_max_bytes; })
                    .Doc("bytes of dead letters kept"));
    k.push_back(DurationKey(
                    "local.retention",
                    "how long spans stay readable through the local query API after they arrive (0: off)",
                    [](Config & c) -> auto& { return c.buffer.retention; })
                    .Doc("spans stay stored, indexed and readable (/api, the trace explorer,\n"
                         "spanvault traces) this long, also once delivered; \"0s\": off (docs/api.md)"));
    k.push_back(SizeKey(
                    "local.max_disk_bytes", "bound on the bytes of spans kept only for local retention",
                    [](Config & c) -> auto& { return c.buffer.local_max_disk_bytes; })
                    .Doc("spans kept only for local retention (delivered everywhere);\n"
                         "the oldest are dropped beyond"));
    k.push_back(KeyDef{"local.api", "serve /api/... and the trace explorer on the HTTP listener",
                       [](Config& c, std::string_view v) -> std::string {
                         auto b = ParseBool(v);
                         if (!b) return Bad("value", v, "true or false");
                         c.local.api = *b;
                         return {};
                       },
                       [](const Config& c) { return std::string(c.local.api ? "true" : "false"); }, Kind::kBool}
                    .Doc("serve /api/... and the trace explorer (GET /) on the HTTP listener,\n"
                         "and $query/$export/$tail/$replay on the stream socket"));
    k.push_back(DurationKey(
                    "shutdown_grace", "on SIGTERM, how long requests to upstreams in flight may finish",
                    [](Config & c) -> auto& { return c.shutdown_grace; })
                    .Doc("on SIGTERM, how long requests in flight may finish"));
    k.push_back(UintKey(
                    "upstream_threads", "threads that encode, compress and send batches",
                    [](Config & c) -> auto& { return c.upstream_threads; })
                    .Doc("threads that encode, compress and send batches"));
    k.push_back(ListKey(
                    "processors",
                    "[[processor]] names applied in order at ingest, before the store (a TOML array; comma-separated "
                    "elsewhere)",
                    [](Config & c) -> auto& { return c.processors; })
                    .Doc("[[processor]] names applied in order to every span at ingest, before the\n"
                         "store: nothing they remove is written to disk (docs/processors.md)"));
    k.push_back(ListKey(
                    "price_tables",
                    "user price tables before the built-in one (a TOML array; comma-separated elsewhere)",
                    [](Config & c) -> auto& { return c.price_tables; })
                    .Doc("user price tables before the built-in one (see Cost);\n"
                         "\"litellm:/path.json\" for LiteLLM's file; comma-separated in env / --set"));
    return k;
  }();
  return keys;
}

const KeyDef* FindKey(std::string_view name) {
  for (const KeyDef& k : Keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string EnvName(const std::string& key) {
  std::string e = "SPANVAULT_";
  for (char c : key) e.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return e;
}

void Apply(Config& c, const std::string& key, std::string_view value, std::string_view origin,
           std::vector<std::string>* problems) {
  const KeyDef* k = FindKey(key);
  if (k == nullptr) {
    problems->push_back(std::string(origin) + ": unknown key \"" + key + "\"");
    return;
  }
  std::string err = k->set(c, value);
  if (!err.empty()) problems->push_back(std::string(origin) + ": " + key + ": " + err);
}

std::string NodeText(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (auto f = n.as_floating_point()) {
    std::ostringstream o;
    o << f->get();
    return o.str();
  }
  return {};
}

// One [[upstream]] table: sub-tables (headers, retry) become dotted keys.
void ApplyUpstreamTable(upstream::UpstreamConfig& u, const toml::table& t, const std::string& prefix,
                        const std::string& where, const std::string& file, std::vector<std::string>* problems) {
  for (auto&& [k, node] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    std::string origin = file + ":" + std::to_string(node.source().begin.line) + ": " + where + "." + key;
    if (const toml::table* sub = node.as_table()) {
      ApplyUpstreamTable(u, *sub, key, where, file, problems);
      continue;
    }
    if (key == "processors" && node.is_array()) {
      std::string joined;
      for (const toml::node& item : *node.as_array()) {
        if (!item.is_string() || NodeText(item).empty() || NodeText(item).find(',') != std::string::npos) {
          problems->push_back(origin + ": expected an array of processor names");
          joined.clear();
          break;
        }
        joined += (joined.empty() ? "" : ",") + NodeText(item);
      }
      (void)upstream::SetUpstreamKey(u, key, joined);
      continue;
    }
    if (node.is_array()) {
      problems->push_back(origin + ": an array is not expected here");
      continue;
    }
    std::string err = upstream::SetUpstreamKey(u, key, NodeText(node));
    if (!err.empty()) problems->push_back(origin + ": " + err);
  }
}

void ApplyTable(Config& c, const toml::table& t, const std::string& prefix, const std::string& file,
                std::vector<std::string>* problems) {
  for (auto&& [k, node] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      ApplyTable(c, *sub, key, file, problems);
      continue;
    }
    std::string origin = file + ":" + std::to_string(node.source().begin.line);
    if (const toml::array* arr = node.as_array(); arr != nullptr && !node.is_array_of_tables()) {
      // Arrays of strings are passed to the key's parser comma-separated.
      std::string joined;
      bool strings = true;
      for (const toml::node& item : *arr) {
        if (!item.is_string()) strings = false;
        if (!joined.empty()) joined += ",";
        joined += NodeText(item);
      }
      if (!strings) {
        problems->push_back(origin + ": " + key + ": expected an array of strings");
        continue;
      }
      Apply(c, key, joined, origin, problems);
      continue;
    }
    if (node.is_array_of_tables() && key == "upstream") {
      for (const toml::node& item : *node.as_array()) {
        upstream::UpstreamConfig u;
        std::string where = "upstream[" + std::to_string(c.upstreams.size()) + "]";
        ApplyUpstreamTable(u, *item.as_table(), "", where, file, problems);
        c.upstreams.push_back(std::move(u));
      }
      continue;
    }
    if (node.is_array_of_tables() && key == "processor") {
      for (const toml::node& item : *node.as_array()) {
        std::string where = "processor[" + std::to_string(c.processor_defs.size()) + "]";
        c.processor_defs.push_back(ReadProcessorTable(*item.as_table(), where, file, problems));
      }
      continue;
    }
    if (node.is_array_of_tables()) {
      problems->push_back(origin + ": unknown key \"" + key + "\"");
      continue;
    }
    Apply(c, key, NodeText(node), origin, problems);
  }
}

}  // namespace

std::filesystem::path DefaultStateDir() {
  if (geteuid() == 0) return kRootStateDir;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x != '\0') {
    return std::filesystem::path(x) / "spanvault";
  }
  return "spanvault-data/state";
}

std::filesystem::path DefaultRuntimeDir() {
  if (geteuid() == 0) return kRootRuntimeDir;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    return std::filesystem::path(x) / "spanvault";
  }
  return "spanvault-data/run";
}

std::string Config::SocketPath(const std::string& setting) const {
  if (setting.empty() || setting == "off") return {};
  std::filesystem::path p(setting);
  return p.is_absolute() ? p.string() : (runtime_dir / p).string();
}

std::vector<std::string> Config::Validate() const {
  std::vector<std::string> p;
  log::Level level;
  if (!log::ParseLevel(log_level, &level)) p.push_back("log_level: \"" + log_level + "\" is not debug|info|warn|error");
  if (state_dir.empty()) p.push_back("state_dir must be set");
  if (runtime_dir.empty()) p.push_back("runtime_dir must be set");
  for (const std::string* s : {&ingest.unix_stream, &ingest.unix_dgram}) {
    std::string path = SocketPath(*s);
    if (path.size() + 16 > 107) {
      p.push_back("socket path " + path + " is too long for a Unix socket (max ~90 bytes here)");
    }
  }
  if (ingest.unix_stream != "off" && ingest.unix_stream == ingest.unix_dgram) {
    p.push_back("ingest.unix_stream and ingest.unix_dgram must differ");
  }
  if (ingest.udp != "off") {
    auto hp = ipc::ParseHostPort(ingest.udp);
    if (!hp) {
      p.push_back("ingest.udp: " + hp.error().message);
    } else if (!ingest.allow_remote && !ipc::IsLoopback(hp->host)) {
      p.push_back("ingest.udp: " + ingest.udp +
                  " is not a loopback address; set ingest.allow_remote = true to allow it");
    }
  }
  if (ingest.http != "off") {
    auto hp = ipc::ParseHostPort(ingest.http);
    if (!hp) {
      p.push_back("ingest.http: " + hp.error().message);
    } else if (!ingest.allow_remote && !ipc::IsLoopback(hp->host)) {
      p.push_back("ingest.http: " + ingest.http +
                  " is not a loopback address; set ingest.allow_remote = true to allow it");
    }
  }
  if (ingest.max_http_body_bytes < 1024 || ingest.max_http_body_bytes > (1ull << 30)) {
    p.push_back("ingest.max_http_body_bytes must be between 1 KiB and 1 GiB");
  }
  for (auto [name, d] : {std::pair{"ingest.http_header_timeout", ingest.http_header_timeout},
                         std::pair{"ingest.http_idle_timeout", ingest.http_idle_timeout},
                         std::pair{"ingest.http_body_timeout", ingest.http_body_timeout}}) {
    if (d.count() < 10) p.push_back(std::string(name) + " must be at least 10ms");
  }
  if (ingest.http_max_connections < 1) p.push_back("ingest.http_max_connections must be at least 1");
  if (ingest.http_max_requests_per_connection < 1) {
    p.push_back("ingest.http_max_requests_per_connection must be at least 1");
  }
  if (ingest.max_span_bytes < 256 || ingest.max_span_bytes > (64u << 20)) {
    p.push_back("ingest.max_span_bytes must be between 256 B and 64 MiB");
  }
  if (ingest.max_udp_datagram_bytes < 256 || ingest.max_udp_datagram_bytes > 65536) {
    p.push_back("ingest.max_udp_datagram_bytes must be between 256 B and 64 KiB");
  }
  if (ingest.max_unix_datagram_bytes < 256 || ingest.max_unix_datagram_bytes > (16u << 20)) {
    p.push_back("ingest.max_unix_datagram_bytes must be between 256 B and 16 MiB");
  }
  if (ingest.max_depth < 2 || ingest.max_depth > 1024) p.push_back("ingest.max_depth must be between 2 and 1024");
  if (ingest.max_connections < 1) p.push_back("ingest.max_connections must be at least 1");
  if (ingest.max_connections_per_uid < 1) p.push_back("ingest.max_connections_per_uid must be at least 1");
  if (ingest.stream_idle_timeout.count() != 0 && ingest.stream_idle_timeout.count() < 100) {
    p.push_back("ingest.stream_idle_timeout must be 0s (never) or at least 100ms");
  }
  if (ingest.max_inflight_bytes != 0 && ingest.max_inflight_bytes < (1u << 20)) {
    p.push_back("ingest.max_inflight_bytes must be 0 (no bound) or at least 1 MiB");
  }
  if (!ingest.admin_group.empty() && !ipc::LookupGroup(ingest.admin_group)) {
    p.push_back("ingest.admin_group: there is no group \"" + ingest.admin_group + "\"");
  }
  if (io_threads > 64) p.push_back("io_threads must be at most 64");
  if (buffer.fsync_interval.count() < 1) p.push_back("buffer.fsync_interval must be at least 1ms");
  if (buffer.max_disk_bytes < (1u << 20)) p.push_back("buffer.max_disk_bytes must be at least 1 MiB");
  if (buffer.max_age.count() < 1000) p.push_back("buffer.max_age must be at least 1s");
  if (buffer.retention.count() != 0 && buffer.retention.count() < 1000) {
    p.push_back("local.retention must be 0s (off) or at least 1s");
  }
  if (buffer.local_max_disk_bytes < (1u << 20)) p.push_back("local.max_disk_bytes must be at least 1 MiB");
  if (buffer.quarantine_max_entries < 1) p.push_back("buffer.quarantine_max_entries must be at least 1");
  if (buffer.dead_letter_max_entries < 1) p.push_back("buffer.dead_letter_max_entries must be at least 1");
  if (upstream_threads < 1 || upstream_threads > 64) p.push_back("upstream_threads must be between 1 and 64");
  std::vector<std::pair<std::string, std::string>> used;
  for (const std::string& name : processors) {
    used.emplace_back(name, "processors (ingest)");
    for (const auto& def : processor_defs) {
      if (def.name == name && def.type == "sample" && !def.keep.empty()) {
        p.push_back("processors (ingest): processor " + name +
                    ": keep conditions need decision_wait, which only an upstream's processors have");
      }
    }
  }
  for (const auto& u : upstreams) {
    for (const std::string& name : u.processors) used.emplace_back(name, "upstream " + u.name);
  }
  for (std::string& problem : process::ValidateProcessors(processor_defs, used)) p.push_back(std::move(problem));
  for (size_t i = 0; i < upstreams.size(); ++i) {
    for (std::string& problem : upstreams[i].Validate()) p.push_back(std::move(problem));
    for (size_t j = 0; j < i; ++j) {
      if (!upstreams[i].name.empty() && upstreams[i].name == upstreams[j].name) {
        p.push_back("upstream " + upstreams[i].name + ": the name is used twice");
      }
    }
  }
  return p;
}

Config LoadConfig(const LoadOptions& options, std::vector<std::string>* problems) {
  Config c;
  c.state_dir = DefaultStateDir();
  c.runtime_dir = DefaultRuntimeDir();
  if (!options.config_file.empty()) {
    // toml++ is built with exceptions here; they stay inside this function.
    try {
      toml::table t = toml::parse_file(options.config_file);
      ApplyTable(c, t, "", options.config_file, problems);
    } catch (const toml::parse_error& e) {
      problems->push_back(options.config_file + ":" + std::to_string(e.source().begin.line) + ": " +
                          std::string(e.description()));
    } catch (const std::exception& e) {
      problems->push_back(options.config_file + ": " + e.what());
    }
  }
  if (options.use_environment) {
    for (const KeyDef& k : Keys()) {
      std::string env = EnvName(k.name);
      if (const char* v = std::getenv(env.c_str()); v != nullptr) Apply(c, k.name, v, env, problems);
    }
  }
  for (const std::string& s : options.sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) {
      problems->push_back("--set " + s + ": expected KEY=VALUE");
      continue;
    }
    Apply(c, s.substr(0, eq), std::string_view(s).substr(eq + 1), "--set " + s.substr(0, eq), problems);
  }
  c.buffer.dir = c.state_dir / "buffer";
  ResolveProcessors(c);
  for (std::string& p : c.Validate()) problems->push_back(std::move(p));
  return c;
}

std::string DescribeKeys() {
  Config defaults;
  defaults.state_dir = DefaultStateDir();
  defaults.runtime_dir = DefaultRuntimeDir();
  std::string out;
  for (const KeyDef& k : Keys()) {
    out += "  " + k.name + " = " + k.get(defaults) + "   # " + k.help + " (env " + EnvName(k.name) + ")\n";
  }
  out += "  [[upstream]] (repeatable; from the config file only):\n";
  out += upstream::DescribeUpstreamKeys();
  return out;
}

std::vector<KeyDoc> KeyDocs() {
  Config defaults;
  defaults.state_dir = kRootStateDir;
  defaults.runtime_dir = kRootRuntimeDir;
  std::vector<KeyDoc> out;
  for (const KeyDef& k : Keys()) {
    std::string v = k.get(defaults);
    std::string value;
    switch (k.kind) {
      case Kind::kString:
        value = TomlQuote(v);
        break;
      case Kind::kDuration:
        value = "\"" + v + "\"";
        break;
      case Kind::kSize:
        value = TomlSize(ParseSize(v).value_or(0));
        break;
      case Kind::kUint:
      case Kind::kBool:
        value = v;
        break;
      case Kind::kList:
        // The getter joins the items with commas ("[]" when none).
        value = "[";
        if (v != "[]") {
          size_t start = 0;
          for (;;) {
            size_t comma = v.find(',', start);
            value += (start == 0 ? "" : ", ") + TomlQuote(v.substr(start, comma - start));
            if (comma == std::string::npos) break;
            start = comma + 1;
          }
        }
        value += "]";
        break;
    }
    out.push_back({k.name, std::move(value), k.comment, k.help});
  }
  return out;
}

void ResolveProcessors(Config& config) {
  for (auto& u : config.upstreams) {
    u.processor_defs.clear();
    for (const std::string& name : u.processors) {
      for (const auto& def : config.processor_defs) {
        if (def.name == name) {
          u.processor_defs.push_back(def);
          break;
        }
      }
    }
  }
}

std::vector<std::string> ChangedKeys(const Config& a, const Config& b) {
  std::vector<std::string> changed;
  for (const KeyDef& k : Keys()) {
    if (k.get(a) != k.get(b)) changed.push_back(k.name);
  }
  return changed;
}

}  // namespace spanvault::daemon
