#include "observe/prometheus.h"

#include <cinttypes>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

namespace spanvault::observe {
namespace {

using nlohmann::json;
using Labels = std::vector<std::pair<std::string, std::string>>;

// A family collects its samples and is written with its HELP/TYPE header once.
class Family {
 public:
  Family(std::string name, std::string type, std::string help)
      : name_(std::move(name)), type_(std::move(type)), help_(std::move(help)) {}

  void Add(const Labels& labels, const json& value) {
    if (!value.is_number() && !value.is_boolean()) return;  // absent: no sample
    std::string line = name_;
    if (!labels.empty()) {
      line.push_back('{');
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) line.push_back(',');
        line += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
      }
      line.push_back('}');
    }
    line.push_back(' ');
    if (value.is_boolean()) {
      line += value.get<bool>() ? "1" : "0";
    } else if (value.is_number_integer()) {
      line += value.is_number_unsigned() ? std::to_string(value.get<uint64_t>()) : std::to_string(value.get<int64_t>());
    } else {
      char b[64];
      std::snprintf(b, sizeof b, "%.9g", value.get<double>());
      line += b;
    }
    line.push_back('\n');
    samples_ += line;
  }

  void Write(std::string& out) const {
    if (samples_.empty()) return;
    out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " " + type_ + "\n" + samples_;
  }

 private:
  static std::string Escape(std::string_view v) {
    std::string e;
    for (char c : v) {
      if (c == '\\') {
        e += "\\\\";
      } else if (c == '"') {
        e += "\\\"";
      } else if (c == '\n') {
        e += "\\n";
      } else {
        e.push_back(c);
      }
    }
    return e;
  }

  std::string name_, type_, help_;
  std::string samples_;
};

const json& Get(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

}  // namespace

std::string RenderPrometheus(const json& status) {
  std::string out;
  auto gauge = [&](const char* name, const char* help, const json& v) {
    Family f(name, "gauge", help);
    f.Add({}, v);
    f.Write(out);
  };
  auto counter = [&](const char* name, const char* help, const json& v) {
    Family f(name, "counter", help);
    f.Add({}, v);
    f.Write(out);
  };

  {
    Family f("spanvault_build_info", "gauge", "Always 1; the version is a label.");
    f.Add({{"version", Get(status, "version").is_string() ? Get(status, "version").get<std::string>() : ""}}, 1);
    f.Write(out);
  }
  gauge("spanvault_uptime_seconds", "Seconds since the daemon started.", Get(status, "uptime_seconds"));

  // Intake, per transport and reason.
  Family payloads("spanvault_received_payloads_total", "counter",
                  "Lines, datagrams or HTTP requests received, per transport.");
  Family bytes("spanvault_received_bytes_total", "counter", "Bytes received, per transport.");
  Family accepted("spanvault_accepted_spans_total", "counter", "Spans made durable, per transport.");
  Family rejected("spanvault_rejected_payloads_total", "counter",
                  "Payloads or spans refused, per transport and reason (too_large, syntax, encoding, depth, schema, "
                  "full, forbidden, busy).");
  Family drops("spanvault_udp_kernel_drops_total", "counter",
               "Datagrams the kernel dropped before the daemon read them (SO_RXQ_OVFL).");
  Family conns("spanvault_connections", "gauge", "Open connections, per transport.");
  Family conns_refused("spanvault_connections_refused_total", "counter",
                       "Connections closed at once by a cap (ingest.max_connections, max_connections_per_uid).");
  Family refused("spanvault_http_refused_requests_total", "counter",
                 "HTTP requests refused before their body was read, per reason (host: not a loopback Host with the "
                 "listener's port; origin: Origin not allowed; cross_site: Sec-Fetch-Site cross-site; preflight: CORS "
                 "preflight from an origin not allowed).");
  for (auto& [transport, t] : Get(status, "transports").items()) {
    Labels l = {{"transport", transport}};
    payloads.Add(l, Get(t, "received"));
    bytes.Add(l, Get(t, "received_bytes"));
    accepted.Add(l, Get(t, "accepted_spans"));
    for (auto& [reason, n] : Get(t, "rejected_by_reason").items()) {
      rejected.Add({{"transport", transport}, {"reason", reason}}, n);
    }
    drops.Add(l, Get(t, "kernel_drops"));
    conns.Add(l, Get(t, "connections"));
    conns_refused.Add(l, Get(t, "connections_refused"));
    for (auto& [reason, n] : Get(t, "refused_by_policy").items()) refused.Add({{"reason", reason}}, n);
  }
  for (const Family* f : {&payloads, &bytes, &accepted, &rejected, &drops, &conns, &conns_refused, &refused}) {
    f->Write(out);
  }

  // The in-flight budget.
  const json& in = Get(status, "ingest");
  gauge("spanvault_inflight_bytes", "Bytes the listeners hold on their way to the store.", Get(in, "inflight_bytes"));
  gauge("spanvault_inflight_max_bytes", "The in-flight budget (ingest.max_inflight_bytes; 0: no bound).",
        Get(in, "max_inflight_bytes"));
  {
    Family f("spanvault_inflight_refusals_total", "counter",
             "Input turned away while the in-flight budget was spent, per transport (stream: read pauses; http: 503 "
             "answers; datagrams: datagrams dropped).");
    for (auto& [transport, n] : Get(in, "budget_refusals").items()) f.Add({{"transport", transport}}, n);
    f.Write(out);
  }

  // The buffer.
  const json& b = Get(status, "buffer");
  gauge("spanvault_buffer_spans", "Spans buffered on disk.", Get(b, "spans"));
  gauge("spanvault_buffer_pending_spans", "Stored spans not yet delivered to every upstream.", Get(b, "pending_spans"));
  gauge("spanvault_buffer_local_spans", "Stored spans kept only for local retention (delivered).",
        Get(b, "local_spans"));
  gauge("spanvault_buffer_local_bytes", "Logical bytes of the spans kept only for local retention.",
        Get(b, "local_bytes"));
  gauge("spanvault_buffer_bytes", "Logical bytes of the buffered spans (keys and values).", Get(b, "bytes"));
  gauge("spanvault_buffer_max_bytes", "The buffer's bound (buffer.max_disk_bytes).", Get(b, "max_disk_bytes"));
  gauge("spanvault_buffer_oldest_span_age_seconds", "Age of the oldest buffered span (0 when empty).",
        Get(b, "oldest_age_seconds"));
  counter("spanvault_buffer_dropped_spans_total", "Spans dropped at max_disk_bytes or max_age.",
          Get(b, "dropped_spans"));
  counter("spanvault_buffer_refused_spans_total", "Spans refused because the buffer was full (on_full = reject).",
          Get(b, "refused_full"));
  counter("spanvault_buffer_writes_total", "RocksDB writes (group commits).", Get(b, "write_batches"));
  counter("spanvault_buffer_fsyncs_total", "WAL fsyncs.", Get(b, "fsyncs"));
  counter("spanvault_buffer_write_errors_total", "Failed RocksDB writes.", Get(b, "write_errors"));
  if (b.contains("store_state")) {
    gauge("spanvault_buffer_store_up",
          "1 while the span store is writable, 0 while it is failed (disk full, I/O error).",
          json(Get(b, "store_state") == "ok" ? 1 : 0));
    gauge("spanvault_buffer_store_failed_seconds", "How long the span store has been failed (0 when ok).",
          b.contains("store_failed_seconds") ? Get(b, "store_failed_seconds") : json(0));
    counter("spanvault_buffer_store_failures_total", "Times the span store went from ok to failed.",
            Get(b, "store_failures"));
    Family f("spanvault_buffer_effective_max_bytes", "gauge",
             "The bound in force: buffer.max_disk_bytes, or less when the filesystem holds less (bound label).");
    f.Add({{"bound", Get(b, "bound").get<std::string>()}}, Get(b, "effective_max_bytes"));
    f.Write(out);
    gauge("spanvault_buffer_disk_free_bytes", "Free bytes on the store's filesystem.", Get(b, "disk_free_bytes"));
    gauge("spanvault_buffer_disk_reserve_bytes", "Bytes held in the disk reserve file (0 when released).",
          Get(b, "disk_reserve_bytes"));
  }
  counter("spanvault_buffer_stores_moved_aside_total",
          "Damaged stores (or spans databases) moved aside and salvaged, at start or while running.",
          Get(b, "stores_moved_aside"));
  if (b.contains("salvage")) {  // the last damaged store's salvage (daemon/auto_salvage.h)
    const json& sv = b["salvage"];
    gauge("spanvault_buffer_salvage_running", "1 while a damaged store's spans are put back into the live one.",
          json(sv.value("state", std::string()) == "running" ? 1 : 0));
    counter("spanvault_buffer_salvaged_spans_total", "Spans salvaged from a damaged store into the live one.",
            Get(sv, "spans"));
  }
  gauge("spanvault_quarantine_entries", "Refused payloads kept for `spanvault rejected`.", Get(b, "quarantined"));
  counter("spanvault_quarantined_payloads_total", "Refused payloads written to the quarantine.",
          Get(b, "quarantined_total"));
  gauge("spanvault_dead_letters", "Spans an upstream refused for good, kept for `spanvault dead-letter`.",
        Get(b, "dead_letters"));
  counter("spanvault_dead_letters_dropped_total", "Dead letters dropped at the dead-letter bounds.",
          Get(b, "dead_letters_dropped"));

  // Upstreams.
  Family up("spanvault_upstream_up", "gauge", "1 when the last attempt to the upstream succeeded (or none failed).");
  Family paused("spanvault_upstream_paused", "gauge",
                "1 while the upstream is paused after 401/403 or a redirect (check its credentials).");
  Family pending("spanvault_upstream_pending_spans", "gauge", "Buffered spans the upstream has not acknowledged.");
  Family oldest("spanvault_upstream_oldest_pending_age_seconds", "gauge",
                "Age of the oldest span the upstream has not acknowledged (0 when none).");
  Family inflight("spanvault_upstream_in_flight_batches", "gauge", "Batches being sent or retried.");
  Family delivered("spanvault_upstream_delivered_spans_total", "counter", "Spans the upstream acknowledged.");
  Family batches("spanvault_upstream_delivered_batches_total", "counter", "Requests the upstream acknowledged.");
  Family sent("spanvault_upstream_sent_bytes_total", "counter", "Request body bytes acknowledged (after gzip).");
  Family failed("spanvault_upstream_failed_attempts_total", "counter", "Attempts that did not deliver.");
  Family retries("spanvault_upstream_retries_total", "counter", "Batches scheduled for another attempt.");
  Family splits("spanvault_upstream_splits_total", "counter", "Batches split after a permanent 4xx.");
  Family dead("spanvault_upstream_dead_lettered_spans_total", "counter",
              "Spans the upstream refused for good (moved to the dead-letter store).");
  Family partial("spanvault_upstream_rejected_spans_total", "counter",
                 "Spans the upstream refused inside an accepted batch (OTLP partial_success).");
  Family expired("spanvault_upstream_expired_spans_total", "counter",
                 "Spans given up after max_age while being retried.");
  Family success_age("spanvault_upstream_last_success_age_seconds", "gauge",
                     "Seconds since the upstream last acknowledged a batch (absent before the first).");
  for (const json& u : Get(status, "upstreams")) {
    Labels l = {{"upstream", Get(u, "name").is_string() ? Get(u, "name").get<std::string>() : ""}};
    up.Add(l, Get(u, "healthy"));
    paused.Add(l, Get(u, "paused"));
    pending.Add(l, Get(u, "pending_spans"));
    oldest.Add(l, Get(u, "oldest_pending_age_seconds"));
    inflight.Add(l, Get(u, "in_flight_batches"));
    delivered.Add(l, Get(u, "delivered_spans"));
    batches.Add(l, Get(u, "delivered_batches"));
    sent.Add(l, Get(u, "sent_bytes"));
    failed.Add(l, Get(u, "failed_attempts"));
    retries.Add(l, Get(u, "retries"));
    splits.Add(l, Get(u, "splits"));
    dead.Add(l, Get(u, "dead_lettered"));
    partial.Add(l, Get(u, "rejected_by_upstream"));
    expired.Add(l, Get(u, "expired_spans"));
    success_age.Add(l, Get(u, "last_success_age_seconds"));
  }
  for (const Family* f : {&up, &paused, &pending, &oldest, &inflight, &delivered, &batches, &sent, &failed, &retries,
                          &splits, &dead, &partial, &expired, &success_age}) {
    f->Write(out);
  }

  // Processors (docs/processors.md): per upstream that has some, and at ingest.
  struct ProcessingFamilies {
    Family spans, traces, redact, gave_up, fields;
    explicit ProcessingFamilies(const std::string& prefix, const std::string& whose)
        : spans(prefix + "processed_spans_total", "counter",
                "Spans through " + whose + " processors, by result (kept, filtered, sampled_out, unreadable)."),
          traces(prefix + "sampled_traces_total", "counter",
                 "Traces (counted by their root span) by sampling decision (kept, dropped)."),
          redact(prefix + "redactions_total", "counter", "Values redacted, by detector."),
          gave_up(prefix + "redact_gave_up_total", "counter",
                  "Fields masked whole because redaction could not check them (scan bound, unreadable)."),
          fields(prefix + "processed_fields_total", "counter",
                 "Fields changed by the processors, by action (dropped, truncated).") {}
    void Add(const Labels& base, const json& pr) {
      auto with = [&](const char* k, const std::string& v) {
        Labels l = base;
        l.emplace_back(k, v);
        return l;
      };
      spans.Add(with("result", "kept"), Get(pr, "spans_kept"));
      spans.Add(with("result", "filtered"), Get(pr, "spans_dropped_by_filter"));
      spans.Add(with("result", "sampled_out"), Get(pr, "spans_dropped_by_sample"));
      spans.Add(with("result", "unreadable"), Get(pr, "unreadable_spans"));
      traces.Add(with("decision", "kept"), Get(pr, "traces_kept"));
      traces.Add(with("decision", "dropped"), Get(pr, "traces_dropped"));
      for (auto& [detector, n] : Get(pr, "redactions").items()) redact.Add(with("detector", detector), n);
      gave_up.Add(base, Get(pr, "redact_gave_up"));
      fields.Add(with("action", "dropped"), Get(pr, "fields_dropped"));
      fields.Add(with("action", "truncated"), Get(pr, "fields_truncated"));
    }
    void Write(std::string& out) const {
      for (const Family* f : {&spans, &traces, &redact, &gave_up, &fields}) f->Write(out);
    }
  };
  ProcessingFamilies upstream_processing("spanvault_upstream_", "the upstream's");
  for (const json& u : Get(status, "upstreams")) {
    const json& pr = Get(u, "processing");
    if (!pr.is_object()) continue;
    upstream_processing.Add({{"upstream", Get(u, "name").is_string() ? Get(u, "name").get<std::string>() : ""}}, pr);
  }
  upstream_processing.Write(out);
  ProcessingFamilies ingest_processing("spanvault_ingest_", "the ingest");
  if (const json& pr = Get(status, "ingest_processing"); pr.is_object()) ingest_processing.Add({}, pr);
  ingest_processing.Write(out);

  // Prices.
  const json& p = Get(status, "prices");
  counter("spanvault_priced_spans_total", "Spans priced from a price table.", Get(p, "priced_spans"));
  counter("spanvault_unpriced_spans_total", "Spans with a model but no price (see `spanvault prices unpriced`).",
          Get(p, "unpriced_spans"));
  counter("spanvault_price_table_reloads_total", "Price table reloads (SIGHUP, `spanvault prices reload`).",
          Get(p, "reloads"));
  gauge("spanvault_priced_models", "Models with a price in the loaded tables.", Get(p, "models"));
  return out;
}

}  // namespace spanvault::observe
