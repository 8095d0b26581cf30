// bench/output.cc — spanvault-bench's three output formats, for a transport
// run (Result) and for a drain run (DrainResult): the human summary line, one
// Markdown table row (the columns bench/run.sh and bench/drain.sh print
// headers for) and one JSON object.

#include <cmath>
#include <optional>
#include <string>

#include "bench/bench.h"

namespace spanvault::bench {

namespace {

std::string DrainGzip(const Options& opt, const SinkStats& k) {
  if (!opt.expect_gzip.empty()) return opt.expect_gzip;
  if (k.gzip_requests > 0 && k.plain_requests > 0) return "mixed";
  return k.gzip_requests > 0 ? "on" : "off";
}

std::string MiB(std::optional<uint64_t> bytes) {
  return bytes ? Fixed(static_cast<double>(*bytes) / 1048576.0, 0) : std::string("n/a");
}

std::string HumanSize(uint64_t bytes) { return Fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 0) + " MiB"; }

}  // namespace

std::string DrainHumanLine(const Options& opt, const DrainResult& d) {
  const SinkStats& k = d.sink;
  const Result& r = d.ingest;
  std::string s = "drain " + d.scenario + "  gzip=" + DrainGzip(opt, k) +
                  (opt.expect_batch ? " batch=" + std::to_string(opt.expect_batch) : std::string()) +
                  "  spans=" + std::to_string(r.sent);
  s += "  ingest " + Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) + " spans/s";
  if (d.delivered_all) {
    s += "  delivered " + Commas(static_cast<uint64_t>(std::llround(d.delivered_per_s()))) + " spans/s over " +
         Fixed(d.deliver_seconds, 2) + " s";
    if (d.scenario == "live") s += " (lag after ingest " + Fixed(d.lag_seconds, 2) + " s)";
  } else {
    s += "  delivered " + Commas(d.delivered) + " of " + Commas(d.target) + " (INCOMPLETE)";
  }
  s += "  daemon cpu " + (d.daemon_cpu_pct ? Fixed(*d.daemon_cpu_pct, 0) + "%" : std::string("n/a"));
  s += "  peak rss " + MiB(d.daemon_peak_rss) + " MiB";
  if (d.scenario == "backlog") s += " (ingest phase " + MiB(r.daemon_peak_rss) + " MiB)";
  const uint64_t batches = d.after.delivered_batches - std::min(d.after.delivered_batches, d.before.delivered_batches);
  s += "  sink: " + Commas(k.requests) + " requests (" + Commas(batches) + " batches, " +
       (batches ? Fixed(static_cast<double>(d.delivered) / static_cast<double>(batches), 0) : std::string("n/a")) +
       " spans each), " + Fixed(static_cast<double>(k.body_bytes) / 1048576.0, 1) + " MiB, " + Commas(k.connections) +
       " connections";
  if (k.verified_gzip_bytes > 0) {
    s += ", gzip ratio " +
         Fixed(static_cast<double>(k.verified_gzip_raw_bytes) / static_cast<double>(k.verified_gzip_bytes), 1);
  }
  s += ", verified " + Commas(k.verified_requests) + " requests / " + Commas(k.verified_spans) + " spans (max " +
       Commas(k.max_batch_spans) + ")";
  return s;
}

std::string DrainMarkdownRow(const Options& opt, const DrainResult& d) {
  const Result& r = d.ingest;
  std::string delivered = d.delivered_all ? Commas(static_cast<uint64_t>(std::llround(d.delivered_per_s())))
                                          : "incomplete (" + Commas(d.delivered) + ")";
  return "| " + d.scenario + " | " + DrainGzip(opt, d.sink) + " | " +
         (opt.expect_batch ? std::to_string(opt.expect_batch) : std::string("?")) + " | " + Commas(r.sent) + " | " +
         Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) + " | " + delivered + " | " +
         (d.scenario == "backlog" && d.delivered_all ? Fixed(d.deliver_seconds, 2) : std::string("–")) + " | " +
         (d.daemon_cpu_pct ? Fixed(*d.daemon_cpu_pct, 0) : std::string("n/a")) + " | " + MiB(d.daemon_peak_rss) + " |";
}

json DrainToJson(const Options& opt, const DrainResult& d) {
  auto opt_d = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  auto opt_u = [](const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  const Result& r = d.ingest;
  const SinkStats& k = d.sink;
  json j;
  j["scenario"] = d.scenario;
  j["gzip"] = DrainGzip(opt, k);
  j["batch_max_spans"] = opt.expect_batch ? json(opt.expect_batch) : json(nullptr);
  j["spans"] = r.sent;
  j["ingest_spans_per_second"] = r.spans_per_s();
  j["ingest_seconds"] = r.wall_seconds;
  j["ingest_peak_rss_bytes"] = opt_u(r.daemon_peak_rss);
  j["target"] = d.target;
  j["delivered"] = d.delivered;
  j["delivered_all"] = d.delivered_all;
  j["delivered_spans_per_second"] = d.delivered_all ? json(d.delivered_per_s()) : json(nullptr);
  j["deliver_seconds"] = d.delivered_all ? json(d.deliver_seconds) : json(nullptr);
  j["catch_up_seconds"] = d.scenario == "backlog" && d.delivered_all ? json(d.deliver_seconds) : json(nullptr);
  j["lag_seconds"] = d.scenario == "live" && d.delivered_all ? json(d.lag_seconds) : json(nullptr);
  j["daemon_cpu_percent"] = opt_d(d.daemon_cpu_pct);
  j["daemon_peak_rss_bytes"] = opt_u(d.daemon_peak_rss);
  j["daemon_peak_rss_scope"] = d.peak_rss_reset ? "run" : "process";
  j["daemon_max_rss_sampled_bytes"] = d.max_rss_sampled;
  j["delivered_batches"] = d.after.delivered_batches - std::min(d.after.delivered_batches, d.before.delivered_batches);
  j["failed_attempts"] = d.after.failed_attempts - std::min(d.after.failed_attempts, d.before.failed_attempts);
  j["sink"] = {{"connections", k.connections},         {"requests", k.requests},
               {"body_bytes", k.body_bytes},           {"gzip_requests", k.gzip_requests},
               {"plain_requests", k.plain_requests},   {"verified_requests", k.verified_requests},
               {"verified_spans", k.verified_spans},   {"verified_raw_bytes", k.verified_raw_bytes},
               {"max_batch_spans", k.max_batch_spans}, {"errors", k.errors},
               {"first_error", k.first_error}};
  j["problems"] = d.problems;
  j["warnings"] = d.warnings;
  return j;
}

std::string HumanLine(const Result& r) {
  std::string s = r.transport;
  s.append(r.transport.size() < 6 ? 6 - r.transport.size() : 0, ' ');
  s += "  spans=" + std::to_string(r.sent) + " conns=" + std::to_string(r.connections);
  if (r.rate_target > 0) s += " rate=" + Commas(static_cast<uint64_t>(r.rate_target)) + "/s";
  if (!r.durability.empty()) s += " durability=" + r.durability;
  if (r.transport != "stream") s += "  sent " + Commas(static_cast<uint64_t>(r.send_per_s())) + " spans/s";
  if (r.accepted_known) {
    s += std::string(r.transport != "stream" ? "  accepted " : "  ") +
         Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) + " spans/s  " + Fixed(r.mib_per_s(), 1) +
         " MiB/s";
  }
  if (r.transport == "udp" && r.accepted_known) {
    s += "  loss " + Fixed(r.loss_pct(), 2) + "%";
    if (r.kernel_drops) s += " (kernel_drops=" + Commas(*r.kernel_drops) + ")";
  }
  s += "  daemon cpu " + (r.daemon_cpu_pct ? Fixed(*r.daemon_cpu_pct, 0) + "%" : std::string("n/a"));
  s += "  peak rss " + (r.daemon_peak_rss ? HumanSize(*r.daemon_peak_rss) : std::string("n/a"));
  s += "  bench cpu " + Fixed(r.bench_cpu_pct, 0) + "%";
  if (r.accepted_known) {
    s += "  accepted=" + std::to_string(r.accepted) + " rejected=" + std::to_string(r.rejected);
    if (r.transport != "stream") s += " lost=" + std::to_string(r.lost());
  } else {
    s += "  accepted=unknown";
  }
  return s;
}

std::string MarkdownRow(const Result& r) {
  std::string t = r.transport;
  if (r.rate_target > 0) {
    t += " @ " + Commas(static_cast<uint64_t>(r.rate_target)) + "/s (sent " +
         Commas(static_cast<uint64_t>(std::llround(r.send_per_s()))) + "/s)";
  }
  std::string loss;
  if (!r.accepted_known) {
    loss = "unknown";
  } else {
    loss = Commas(r.lost()) + " (" + Fixed(r.loss_pct(), 2) + "%)";
    if (r.kernel_drops && *r.kernel_drops > 0) loss += ", kernel drops " + Commas(*r.kernel_drops);
    if (r.rejected > 0) loss += ", rejected " + Commas(r.rejected);
  }
  std::string row = "| " + t + " | " + (r.durability.empty() ? "?" : r.durability) + " | " + Commas(r.sent) + " | " +
                    std::to_string(r.connections) + " | " +
                    (r.accepted_known ? Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) : "n/a") + " | " +
                    (r.accepted_known ? Fixed(r.mib_per_s(), 1) : "n/a") + " | " +
                    (r.daemon_cpu_pct ? Fixed(*r.daemon_cpu_pct, 0) : "n/a") + " | " +
                    (r.daemon_peak_rss ? Fixed(static_cast<double>(*r.daemon_peak_rss) / 1048576.0, 0) : "n/a") +
                    " | " + loss + " |";
  return row;
}

json ToJson(const Result& r) {
  auto opt_d = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  auto opt_u = [](const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  json j;
  j["transport"] = r.transport;
  j["durability"] = r.durability.empty() ? json(nullptr) : json(r.durability);
  j["spans"] = r.requested;
  j["connections"] = r.connections;
  j["rate_target"] = r.rate_target;
  j["span_bytes_avg"] = r.avg_span_bytes;
  j["sent"] = r.sent;
  j["bytes_sent"] = r.bytes_sent;
  j["accepted"] = r.accepted_known ? json(r.accepted) : json(nullptr);
  j["rejected"] = r.accepted_known ? json(r.rejected) : json(nullptr);
  j["lost"] = r.accepted_known ? json(r.lost()) : json(nullptr);
  j["loss_percent"] = r.accepted_known ? json(r.loss_pct()) : json(nullptr);
  if (r.transport != "stream") j["daemon_received"] = r.accepted_known ? json(r.daemon_received) : json(nullptr);
  if (r.transport == "udp") j["kernel_drops"] = opt_u(r.kernel_drops);
  j["send_seconds"] = r.send_seconds;
  j["wall_seconds"] = r.wall_seconds;
  j["send_spans_per_second"] = r.send_per_s();
  j["spans_per_second"] = r.accepted_known ? json(r.spans_per_s()) : json(nullptr);
  j["mib_per_second"] = r.accepted_known ? json(r.mib_per_s()) : json(nullptr);
  j["daemon_cpu_percent"] = opt_d(r.daemon_cpu_pct);
  j["daemon_peak_rss_bytes"] = opt_u(r.daemon_peak_rss);
  j["daemon_peak_rss_scope"] = !r.daemon_peak_rss ? json(nullptr) : json(r.peak_rss_reset ? "run" : "process");
  j["bench_cpu_percent"] = r.bench_cpu_pct;
  j["errors"] = r.errors;
  j["warnings"] = r.warnings;
  return j;
}

}  // namespace spanvault::bench
