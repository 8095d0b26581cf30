// spanvault status, check, reload: what the running daemon says of itself.
#include <cstdio>
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/util.h"

namespace spanvault::cli {
using nlohmann::json;

namespace {

// Rates: accepted (transports) and delivered (upstreams) spans per second
// over the last minute, or since start when the daemon is younger.
void PrintTransports(json& s) {
  std::printf("\n%-12s %12s %14s %12s %12s %10s  %s\n", "transport", "received", "accepted_spans", "rate/s (1m)",
              "rejected", "drops", "rejected by reason");
  for (auto& [name, t] : s["transports"].items()) {
    std::string reasons;
    for (auto& [k, v] : t["rejected_by_reason"].items()) reasons += k + "=" + v.dump() + " ";
    std::printf("%-12s %12llu %14llu %12.1f %12llu %10s  %s\n", name.c_str(), t.value("received", 0ull),
                t.value("accepted_spans", 0ull), t.value("spans_per_second_1m", 0.0), t.value("rejected", 0ull),
                t.contains("kernel_drops") ? t["kernel_drops"].dump().c_str() : "-", reasons.c_str());
  }
}

// What the listeners refused before decoding (docs/security.md).
void PrintIngestRefusals(json& s) {
  const json& in = s["ingest"];
  std::string refused;
  for (auto& [k, v] : in["budget_refusals"].items()) {
    if (v.is_number() && v.get<uint64_t>() > 0) refused += " " + k + "=" + v.dump();
  }
  const json& st = s["transports"]["unix_stream"];
  const json& http = s["transports"]["http"];
  std::string policy;
  for (auto& [k, v] : http["refused_by_policy"].items()) {
    if (v.is_number() && v.get<uint64_t>() > 0) policy += " " + k + "=" + v.dump();
  }
  std::printf("\nin flight          %llu of %llu bytes%s%s\n", in.value("inflight_bytes", 0ull),
              in.value("max_inflight_bytes", 0ull), refused.empty() ? "" : "; refused while full:", refused.c_str());
  std::printf("connections        stream %llu (%llu refused), http %llu%s%s\n", st.value("connections", 0ull),
              st.value("connections_refused", 0ull), http.value("connections", 0ull),
              policy.empty() ? "" : "; http refused by policy:", policy.c_str());
}

// The buffer's section, with the prices, a damaged store and its salvage.
void PrintBuffer(json& s) {
  const json& b = s["buffer"];
  std::printf("\nbuffer (%s, durability %s)\n", b.value("state_dir", std::string()).c_str(),
              b.value("durability", std::string()).c_str());
  std::printf("  buffered spans     %llu (%llu bytes of %llu)\n", b.value("spans", 0ull), b.value("bytes", 0ull),
              b.value("max_disk_bytes", 0ull));
  std::printf("  oldest span age    %.1fs\n", b.value("oldest_age_seconds", 0.0));
  std::printf("  dropped (bounds)   %llu spans\n", b.value("dropped_spans", 0ull));
  std::printf("  refused (full)     %llu spans\n", b.value("refused_full", 0ull));
  std::printf("  quarantined        %llu now, %llu since start\n", b.value("quarantined", 0ull),
              b.value("quarantined_total", 0ull));
  std::printf("  write batches      %llu, fsyncs %llu, write errors %llu\n", b.value("write_batches", 0ull),
              b.value("fsyncs", 0ull), b.value("write_errors", 0ull));
  std::printf("  dead letters       %llu now, %llu since start\n", b.value("dead_letters", 0ull),
              b.value("dead_letters_total", 0ull));
  if (const json& p = s["prices"]; p.is_object()) {
    std::string top;
    for (const auto& m : p["unpriced_models"]) {
      top += (top.empty() ? "" : ", ") + m.value("model", std::string()) + " (" + m["spans"].dump() + ")";
    }
    std::printf("  prices             %llu models; %llu spans priced, %llu unpriced%s%s\n", p.value("models", 0ull),
                p.value("priced_spans", 0ull), p.value("unpriced_spans", 0ull), top.empty() ? "" : ": ", top.c_str());
  }
  if (b.contains("store_recovered_from")) {
    std::printf("  damaged store moved aside: %s\n", b["store_recovered_from"].get<std::string>().c_str());
  }
  if (b.contains("salvage")) {
    const json& sv = b["salvage"];
    std::printf("  salvage            %s: %llu spans re-queued in %.1fs%s%s\n",
                sv.value("state", std::string()).c_str(), sv.value("spans", 0ull), sv.value("seconds", 0.0),
                sv.contains("note") ? "; " : "", sv.value("note", std::string()).c_str());
  }
}

// One line per upstream, or a note that there is none.
void PrintUpstreams(json& s) {
  const json& ups = s["upstreams"];
  if (!ups.is_array() || ups.empty()) {
    std::printf("\nno upstreams configured: spans stay in the buffer (bounded by max_disk_bytes / max_age)\n");
    return;
  }
  std::printf("\n%-16s %-9s %10s %10s %12s %12s %9s %8s %6s  %s\n", "upstream", "health", "pending", "oldest",
              "delivered", "rate/s (1m)", "in_flight", "retries", "dead", "last error");
  for (const json& u : ups) {
    std::string health = u.value("paused", false) ? "PAUSED" : (u.value("healthy", true) ? "ok" : "FAILING");
    std::string err = u.value("last_error", std::string());
    if (!err.empty() && u["last_error_age_seconds"].is_number()) {
      err += " (" + std::to_string(static_cast<long long>(u["last_error_age_seconds"].get<double>())) + "s ago)";
    }
    std::printf("%-16s %-9s %10llu %9.1fs %12llu %12.1f %9llu %8llu %6llu  %s\n",
                u.value("name", std::string()).c_str(), health.c_str(), u.value("pending_spans", 0ull),
                u.value("oldest_pending_age_seconds", 0.0), u.value("delivered_spans", 0ull),
                u.value("delivered_per_second_1m", 0.0), u.value("in_flight_batches", 0ull), u.value("retries", 0ull),
                u.value("dead_lettered", 0ull), err.c_str());
  }
}

}  // namespace

int CmdStatus(const Globals& g, bool as_json) {
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (!client) return Die(client.error().message);
  if (auto w = client->Write("{\"$status\":true}\n"); !w) return Die(w.error().message);
  auto line = client->ReadLine(std::chrono::seconds(10));
  if (!line) return Die(line.error().message);
  json s = json::parse(*line, nullptr, false);
  if (!s.is_object()) return Die("unexpected answer: " + *line);
  if (as_json) {
    std::printf("%s\n", s.dump(2).c_str());
    return 0;
  }
  std::printf("spanvaultd %s  pid %lld  up %llds\n", s.value("version", std::string()).c_str(), s.value("pid", 0ll),
              s.value("uptime_seconds", 0ll));
  PrintTransports(s);
  PrintIngestRefusals(s);
  PrintBuffer(s);
  PrintUpstreams(s);
  return 0;
}

// For monitoring: exit 0 with "ok: ..." or 1 with one line saying what is wrong.
int CmdCheck(const Globals& g, const CheckArgs& a) {
  auto fail = [](const std::string& why) {
    std::printf("unhealthy: %s\n", why.c_str());
    return 1;
  };
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (!client) return fail("spanvaultd does not answer: " + client.error().message);
  if (auto w = client->Write("{\"$status\":true}\n"); !w) return fail("spanvaultd: " + w.error().message);
  auto line = client->ReadLine(std::chrono::seconds(10));
  if (!line) return fail("spanvaultd does not answer $status: " + line.error().message);
  json s = json::parse(*line, nullptr, false);
  if (!s.is_object()) return fail("unexpected answer: " + *line);
  const json& b = s["buffer"];
  if (b.value("write_errors", 0ull) > 0 && b.value("spans", 0ull) == 0 && b.value("write_batches", 0ull) == 0) {
    return fail("the span store fails every write");
  }
  double max_bytes = static_cast<double>(b.value("max_disk_bytes", 0ull));
  double fill = max_bytes > 0 ? static_cast<double>(b.value("bytes", 0ull)) / max_bytes : 0;
  if (fill > a.max_fill) {
    char m[160];
    std::snprintf(m, sizeof m, "buffer %.0f%% full (%llu spans); the oldest are dropped at 100%%", fill * 100,
                  b.value("spans", 0ull));
    return fail(m);
  }
  size_t upstreams = 0;
  for (const json& u : s["upstreams"]) {
    ++upstreams;
    std::string name = u.value("name", std::string());
    if (u.value("paused", false)) {
      return fail("upstream " + name + " refuses our credentials (" + u.value("last_error", std::string()) +
                  "); spans are kept");
    }
    double age = u.value("oldest_pending_age_seconds", 0.0);
    if (!u.value("healthy", true) && age > a.max_pending_age_s) {
      char m[256];
      std::snprintf(m, sizeof m, "upstream %s failing for %.0fs of backlog (%llu spans pending): %s", name.c_str(), age,
                    u.value("pending_spans", 0ull), u.value("last_error", std::string()).c_str());
      return fail(m);
    }
  }
  if (b.contains("store_recovered_from")) {
    std::printf("ok (warning: a damaged store was moved aside to %s): %llu spans buffered, %zu upstreams\n",
                b["store_recovered_from"].get<std::string>().c_str(), b.value("spans", 0ull), upstreams);
    return 0;
  }
  std::printf("ok: %llu spans buffered (%.0f%% of the bound), %zu upstreams healthy\n", b.value("spans", 0ull),
              fill * 100, upstreams);
  return 0;
}

// The running daemon re-reads its configuration ({"$reload": true}, same as
// SIGHUP) and says what it applied. Exit 1 when the new configuration was
// refused or a part of it could not be applied.
int CmdReload(const Globals& g, bool as_json) {
  // Replaced forwarders get shutdown_grace to finish their requests first.
  auto a = Control(g, R"({"$reload":true})", std::chrono::minutes(5));
  if (!a) return Die(a.error().message);
  if (as_json) {
    std::printf("%s\n", a->dump(2).c_str());
    return a->value("ok", false) ? 0 : 1;
  }
  auto names = [](const json& list) {
    std::string out;
    for (const auto& n : list) out += (out.empty() ? "" : ", ") + (n.is_string() ? n.get<std::string>() : n.dump());
    return out;
  };
  const json& errors = (*a)["config_errors"];
  if (errors.is_array() && !errors.empty()) {
    std::printf("configuration not reloaded; the running one stays in force:\n");
    for (const auto& e : errors) std::printf("  %s\n", e.is_string() ? e.get<std::string>().c_str() : e.dump().c_str());
    return 1;
  }
  const json& u = (*a)["upstreams"];
  std::printf("configuration reloaded\n");
  for (const char* what : {"added", "removed", "changed", "unchanged"}) {
    if (u[what].is_array() && !u[what].empty()) std::printf("  upstreams %-10s %s\n", what, names(u[what]).c_str());
  }
  for (const auto& f : u["failed"]) {
    std::printf("  upstream %s NOT applied: %s\n", f.value("name", std::string()).c_str(),
                f.value("error", std::string()).c_str());
  }
  if (!(*a)["applied"].empty()) std::printf("  applied    %s\n", names((*a)["applied"]).c_str());
  if (!(*a)["needs_restart"].empty()) {
    std::printf("  changed but not applied until a restart: %s\n", names((*a)["needs_restart"]).c_str());
  }
  const json& p = (*a)["prices"];
  if (p.value("ok", false)) {
    std::printf("  price tables reloaded\n");
  } else {
    std::printf("  price tables NOT reloaded (the previous ones stay): %s\n", p.value("error", std::string()).c_str());
  }
  return a->value("ok", false) ? 0 : 1;
}

}  // namespace spanvault::cli
