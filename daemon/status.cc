#include "daemon/status.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/util.h"

namespace spanvault::daemon {

std::string BuildStatusJson(const buffer::SpanQueue& queue, const ipc::Counters& counters, const Config& config,
                            int64_t started_ns) {
  nlohmann::json j;
  int64_t now = NowNanos();
  j["version"] = SPANVAULT_VERSION;
  j["pid"] = getpid();
  j["uptime_seconds"] = (now - started_ns) / 1'000'000'000;
  nlohmann::json t = nlohmann::json::object();
  for (int i = 0; i < span::kTransportCount; ++i) {
    auto tr = static_cast<span::Transport>(i);
    if (tr == span::Transport::kHttp) continue;  // no HTTP listener yet
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
    if (tr == span::Transport::kUnixStream) {
      x["connections"] = c.connections.load();
      x["connections_total"] = c.connections_total.load();
    }
    t[std::string(span::TransportName(tr))] = std::move(x);
  }
  j["transports"] = std::move(t);
  buffer::Stats s = queue.GetStats();
  nlohmann::json b;
  b["spans"] = s.spans;
  b["bytes"] = s.bytes;
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
  b["durability"] = config.buffer.durability == buffer::Durability::kMachine ? "machine" : "process";
  b["max_disk_bytes"] = config.buffer.max_disk_bytes;
  b["state_dir"] = config.state_dir.string();
  if (!s.store_recovered_from.empty()) b["store_recovered_from"] = s.store_recovered_from;
  j["buffer"] = std::move(b);
  return j.dump();
}

}  // namespace spanvault::daemon
