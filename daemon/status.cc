#include "daemon/status.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "buffer/dead_letters.h"
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
  b["durability"] = config.buffer.durability == buffer::Durability::kMachine ? "machine" : "process";
  b["max_disk_bytes"] = config.buffer.max_disk_bytes;
  b["state_dir"] = config.state_dir.string();
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
  return u;
}

namespace {
constexpr size_t kMaxListBytes = 8u << 20;
}  // namespace

std::optional<std::string> DeadLetterControl(buffer::SpanQueue& queue, const nlohmann::json& line) {
  const nlohmann::json& verb = line["$dead_letter"];
  if (!verb.is_string()) return std::nullopt;
  buffer::DeadLetterFilter filter;
  if (auto it = line.find("upstream"); it != line.end() && it->is_string()) filter.upstream = it->get<std::string>();
  if (auto it = line.find("ids"); it != line.end() && it->is_array()) {
    for (const auto& id : *it) {
      if (id.is_number_unsigned()) filter.ids.push_back(id.get<uint64_t>());
    }
  }
  nlohmann::json answer;
  answer["$dead_letter"] = verb;
  auto fail = [&](const Error& e) {
    answer["ok"] = false;
    answer["error"] = e.message;
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (verb == "list") {
    size_t limit = 1000;
    if (auto it = line.find("limit"); it != line.end() && it->is_number_unsigned()) limit = it->get<size_t>();
    auto entries = queue.dead_letters().List(filter, limit);
    if (!entries) return fail(entries.error());
    // Entries carry span contents: the answer stops at kMaxListBytes (under
    // the stream listener's answer cap) and says so.
    std::string out = R"({"$dead_letter":"list","ok":true,"entries":[)";
    size_t listed = 0;
    for (; listed < entries->size(); ++listed) {
      std::string e = (*entries)[listed].ToJson();
      if (listed > 0 && out.size() + e.size() > kMaxListBytes) break;
      if (listed > 0) out.push_back(',');
      out += e;
    }
    out += "]";
    if (listed < entries->size()) {
      out += R"(,"truncated":true,"not_listed":)" + std::to_string(entries->size() - listed);
    }
    out += "}";
    return out;
  }
  if (verb == "replay" || verb == "purge") {
    auto n = verb == "replay" ? queue.dead_letters().Replay(filter) : queue.dead_letters().Purge(filter);
    if (!n) return fail(n.error());
    answer["ok"] = true;
    answer[verb == "replay" ? "replayed" : "purged"] = *n;
    return answer.dump();
  }
  return std::nullopt;
}

}  // namespace spanvault::daemon
