#include "observe/status.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "buffer/dead_letters.h"
#include "common/util.h"

namespace spanvault::observe {

std::string BuildStatusJson(const buffer::SpanQueue& queue, const ipc::Counters& counters,
                            const buffer::Options& buffer, const std::filesystem::path& state_dir, int64_t started_ns) {
  nlohmann::json j;
  int64_t now = NowNanos();
  j["version"] = SPANVAULT_VERSION;
  j["pid"] = getpid();
  j["uptime_seconds"] = (now - started_ns) / 1'000'000'000;
  nlohmann::json t = nlohmann::json::object();
  for (int i = 0; i < span::kTransportCount; ++i) {
    auto tr = static_cast<span::Transport>(i);
    const ipc::TransportCounters& c = counters.transport[i];
    nlohmann::json x;
    x["received"] = c.payloads.load();
    x["received_bytes"] = c.bytes.load();
    x["accepted_spans"] = c.spans_accepted.load();
    x["rejected"] = c.payloads_rejected.load();
    nlohmann::json by = nlohmann::json::object();
    for (int k = 0; k < span::kRejectKindCount; ++k) {
      uint64_t v = c.rejected_by_kind[k].load();
      if (v) by[std::string(span::RejectKindName(static_cast<span::RejectKind>(k)))] = v;
    }
    x["rejected_by_reason"] = by;
    if (tr == span::Transport::kUdp) x["kernel_drops"] = c.kernel_drops.load();
    if (tr == span::Transport::kUnixStream || tr == span::Transport::kHttp) {
      x["connections"] = c.connections.load();
      x["connections_total"] = c.connections_total.load();
      x["connections_refused"] = c.connections_refused.load();
    }
    if (tr == span::Transport::kHttp) {
      // Requests refused by the Host/Origin policy (ipc/http_policy.h), every reason listed.
      nlohmann::json refused = nlohmann::json::object();
      for (int r = 0; r < ipc::kHttpRefusalCount; ++r) {
        refused[std::string(ipc::HttpRefusalName(static_cast<ipc::HttpRefusal>(r)))] = c.refused_by_policy[r].load();
      }
      x["refused_by_policy"] = std::move(refused);
    }
    t[std::string(span::TransportName(tr))] = std::move(x);
  }
  j["transports"] = std::move(t);
  // The in-flight budget shared by the listeners (ingest.max_inflight_bytes).
  nlohmann::json in;
  in["inflight_bytes"] = counters.budget.in_use();
  in["max_inflight_bytes"] = counters.budget.capacity();
  nlohmann::json refusals = nlohmann::json::object();
  for (int i = 0; i < span::kTransportCount; ++i) {
    auto tr = static_cast<span::Transport>(i);
    refusals[std::string(span::TransportName(tr))] = counters.budget.refusals(tr);
  }
  in["budget_refusals"] = std::move(refusals);
  j["ingest"] = std::move(in);
  buffer::Stats s = queue.GetStats();
  nlohmann::json b;
  b["spans"] = s.spans;
  b["bytes"] = s.bytes;
  // Of those, not yet delivered to every upstream, and kept only for local
  // retention (docs/api.md).
  b["pending_spans"] = s.pending_spans;
  b["local_spans"] = s.local_spans;
  b["local_bytes"] = s.local_bytes;
  b["local_expired_spans"] = s.local_expired_spans;
  b["oldest_age_seconds"] = s.oldest_received_ns == 0 ? 0.0 : static_cast<double>(now - s.oldest_received_ns) / 1e9;
  b["head_seq"] = s.head_seq;
  b["next_seq"] = s.next_seq;
  b["dropped_spans"] = s.dropped_spans;
  b["dropped_bytes"] = s.dropped_bytes;
  b["refused_full"] = s.refused_full;
  b["quarantined"] = s.quarantined;
  b["quarantined_total"] = s.quarantined_total;
  b["write_batches"] = s.write_batches;
  b["fsyncs"] = s.fsyncs;
  b["write_errors"] = s.write_errors;
  b["dead_letters"] = s.dead_letters;
  b["dead_letters_total"] = s.dead_letters_total;
  b["dead_letters_dropped"] = s.dead_letters_dropped;
  b["durability"] = buffer.durability == buffer::Durability::kMachine ? "machine" : "process";
  b["max_disk_bytes"] = buffer.max_disk_bytes;
  b["state_dir"] = state_dir.string();
  if (!s.store_recovered_from.empty()) b["store_recovered_from"] = s.store_recovered_from;
  b["stores_moved_aside"] = s.stores_moved_aside;
  // A full disk, an I/O error (docs/durability.md): the store's state and the
  // bound in force.
  b["store_state"] = s.store_ok ? "ok" : "failed";
  if (!s.store_ok) {
    b["store_error"] = s.store_error;
    b["store_failed_seconds"] = static_cast<double>(now - s.store_failed_since_ns) / 1e9;
  }
  b["store_failures"] = s.store_failures;
  b["effective_max_bytes"] = s.effective_max_bytes;
  b["bound"] = s.bound;
  b["disk_free_bytes"] = s.disk_free_bytes;
  b["disk_reserve_bytes"] = s.disk_reserve_bytes;
  j["buffer"] = std::move(b);
  return j.dump();
}

nlohmann::json ForwarderStatusJson(const upstream::ForwarderStats& s) {
  int64_t now = NowNanos();
  nlohmann::json u;
  u["name"] = s.name;
  u["endpoint"] = s.endpoint;
  u["format"] = s.format;
  u["healthy"] = s.healthy;
  u["paused"] = s.paused;
  u["pending_spans"] = s.pending_spans;
  u["oldest_pending_age_seconds"] =
      s.oldest_pending_ns == 0 ? 0.0 : static_cast<double>(now - s.oldest_pending_ns) / 1e9;
  u["in_flight_batches"] = s.in_flight_batches;
  u["delivered_spans"] = s.delivered_spans;
  u["delivered_batches"] = s.delivered_batches;
  u["sent_bytes"] = s.sent_bytes;
  u["failed_attempts"] = s.failed_attempts;
  u["retries"] = s.retries;
  u["splits"] = s.splits;
  u["dead_lettered"] = s.dead_lettered;
  u["rejected_by_upstream"] = s.rejected_by_upstream;
  u["expired_spans"] = s.expired_spans;
  u["acked_seq"] = s.acked_seq;
  u["last_error"] = s.last_error;
  u["last_error_age_seconds"] =
      s.last_error_ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(static_cast<double>(now - s.last_error_ns) / 1e9);
  u["last_success_age_seconds"] = s.last_success_ns == 0
                                      ? nlohmann::json(nullptr)
                                      : nlohmann::json(static_cast<double>(now - s.last_success_ns) / 1e9);
  // The upstream's processors (docs/processors.md), since its forwarder started.
  if (!s.processors.empty()) u["processing"] = ProcessingJson(s.processors, s.processing);
  return u;
}

nlohmann::json ProcessingJson(const std::vector<std::string>& processors, const process::ChainStats& c) {
  nlohmann::json by = nlohmann::json::object();
  for (const auto& [detector, n] : c.redactions) by[detector] = n;
  return {{"processors", processors},
          {"spans_in", c.spans_in},
          {"spans_kept", c.spans_out},
          {"spans_dropped_by_filter", c.dropped_filter},
          {"spans_dropped_by_sample", c.dropped_sample},
          {"traces_kept", c.traces_kept},
          {"traces_dropped", c.traces_dropped},
          {"redactions", std::move(by)},
          {"redact_gave_up", c.redact_gave_up},
          {"fields_dropped", c.fields_dropped},
          {"fields_truncated", c.truncated},
          {"unreadable_spans", c.unreadable}};
}

}  // namespace spanvault::observe
