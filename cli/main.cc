// spanvault — the command-line client: send, status, reload, check, buffer
// dump/salvage, rejected, dead-letter, prices.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>

#include "buffer/dead_letters.h"
#include "buffer/quarantine.h"
#include "buffer/salvage.h"
#include "buffer/span_queue.h"
#include "cli/client.h"
#include "common/util.h"
#include "cost/decimal.h"
#include "cost/price_book.h"
#include "daemon/config.h"

using namespace spanvault;
using nlohmann::json;

namespace {

struct Globals {
  std::string config_file, state_dir, runtime_dir, socket;
};

daemon::Config ResolveConfig(const Globals& g) {
  daemon::LoadOptions lo;
  lo.config_file = g.config_file;
  if (!g.state_dir.empty()) lo.sets.push_back("state_dir=" + g.state_dir);
  if (!g.runtime_dir.empty()) lo.sets.push_back("runtime_dir=" + g.runtime_dir);
  std::vector<std::string> problems;  // the client only needs the paths
  return daemon::LoadConfig(lo, &problems);
}

std::string StreamSocket(const Globals& g) {
  if (!g.socket.empty()) return g.socket;
  daemon::Config c = ResolveConfig(g);
  std::string p = c.SocketPath(c.ingest.unix_stream);
  return p.empty() ? c.SocketPath("spans.sock") : p;
}

int Die(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "spanvault: %s\n", msg.c_str());
  return code;
}

int CmdSend(const Globals& g, const std::string& file, bool sync) {
  int in = STDIN_FILENO;
  if (!file.empty() && file != "-") {
    in = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return Die("cannot open " + file + ": " + strerror(errno));
  }
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (!client) return Die(client.error().message);
  std::string buf(1 << 20, '\0');
  char last = '\n';
  uint64_t sent = 0;
  for (;;) {
    ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Die(std::string("read: ") + strerror(errno));
    }
    if (n == 0) break;
    if (auto w = client->Write(std::string_view(buf.data(), static_cast<size_t>(n))); !w) {
      return Die(w.error().message);
    }
    last = buf[static_cast<size_t>(n) - 1];
    sent += static_cast<uint64_t>(n);
  }
  if (!sync) {
    if (last != '\n') (void)client->Write("\n");
    return 0;
  }
  std::string barrier = last != '\n' ? "\n" : "";
  barrier += "{\"$sync\":1}\n";
  if (auto w = client->Write(barrier); !w) return Die(w.error().message);
  auto line = client->ReadLine(std::chrono::minutes(10));
  if (!line) return Die(line.error().message);
  json a = json::parse(*line, nullptr, false);
  if (!a.is_object()) return Die("unexpected answer: " + *line);
  uint64_t accepted = a.value("accepted", 0ull), rejected = a.value("rejected", 0ull);
  std::printf("accepted %llu rejected %llu\n", static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(rejected));
  if (a.contains("errors")) {
    for (const auto& e : a["errors"]) {
      std::printf("line %llu: %s\n", static_cast<unsigned long long>(e.value("line", 0ull)),
                  e.value("reason", std::string()).c_str());
    }
    if (rejected > a["errors"].size()) {
      std::printf("(%llu more not listed)\n", static_cast<unsigned long long>(rejected - a["errors"].size()));
    }
  }
  if (a.contains("error")) std::printf("error: %s\n", a["error"].get<std::string>().c_str());
  return (rejected > 0 || a.contains("error")) ? 1 : 0;
}

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
  // Rates: accepted (transports) and delivered (upstreams) spans per second
  // over the last minute, or since start when the daemon is younger.
  std::printf("\n%-12s %12s %14s %12s %12s %10s  %s\n", "transport", "received", "accepted_spans", "rate/s (1m)",
              "rejected", "drops", "rejected by reason");
  for (auto& [name, t] : s["transports"].items()) {
    std::string reasons;
    for (auto& [k, v] : t["rejected_by_reason"].items()) reasons += k + "=" + v.dump() + " ";
    std::printf("%-12s %12llu %14llu %12.1f %12llu %10s  %s\n", name.c_str(), t.value("received", 0ull),
                t.value("accepted_spans", 0ull), t.value("spans_per_second_1m", 0.0), t.value("rejected", 0ull),
                t.contains("kernel_drops") ? t["kernel_drops"].dump().c_str() : "-", reasons.c_str());
  }
  // What the listeners refused before decoding (docs/security.md).
  {
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
    std::printf("  salvage            %s: %llu spans re-queued in %.1fs%s%s\n", sv.value("state", std::string()).c_str(),
                sv.value("spans", 0ull), sv.value("seconds", 0.0), sv.contains("note") ? "; " : "",
                sv.value("note", std::string()).c_str());
  }
  const json& ups = s["upstreams"];
  if (ups.is_array() && !ups.empty()) {
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
  } else {
    std::printf("\nno upstreams configured: spans stay in the buffer (bounded by max_disk_bytes / max_age)\n");
  }
  return 0;
}

struct CheckArgs {
  double max_pending_age_s = 300;  // an upstream failing with spans older than this is unhealthy
  double max_fill = 0.9;           // buffer fuller than this fraction of max_disk_bytes is unhealthy
};

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

Result<std::unique_ptr<buffer::SpanQueue>> OpenStore(const Globals& g) {
  daemon::Config c = ResolveConfig(g);
  std::filesystem::path dir = c.state_dir / "buffer";
  std::error_code ec;
  if (!std::filesystem::exists(dir / "CURRENT", ec)) {
    if (ec) return Fail(Error::Io("cannot read " + dir.string() + ": " + ec.message()));
    return Fail(Error::Unavailable("no buffer in " + dir.string() + " (use --state-dir)"));
  }
  return buffer::SpanQueue::OpenReadOnly(dir);
}

int CmdDump(const Globals& g) {
  auto q = OpenStore(g);
  if (!q) return Die(q.error().message);
  uint64_t from = 0;
  std::string out;
  for (;;) {
    auto recs = (*q)->Read(from, 4096, 16 << 20);
    if (!recs) return Die(recs.error().message);
    if (recs->empty()) break;
    out.clear();
    for (const auto& r : *recs) {
      out += r.json;
      out.push_back('\n');
    }
    fwrite(out.data(), 1, out.size(), stdout);
    from = recs->back().seq + 1;
  }
  return 0;
}

// Re-queues what can be read from a moved-aside store: through the running
// daemon ({"$salvage": DIR}), or into the store directly when none runs.
int CmdSalvage(const Globals& g, const std::string& dir) {
  std::string abs = std::filesystem::absolute(dir).string();
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (client) {
    if (auto w = client->Write(json({{"$salvage", abs}}).dump() + "\n"); !w) return Die(w.error().message);
    auto line = client->ReadLine(std::chrono::minutes(30));
    if (!line) return Die(line.error().message);
    json a = json::parse(*line, nullptr, false);
    if (!a.is_object() || !a.value("ok", false)) return Die("salvage failed: " + a.value("error", *line), 1);
    std::printf("salvaged %llu spans (%llu unreadable)%s\n", a.value("spans", 0ull), a.value("unreadable", 0ull),
                a.value("note", std::string()).empty() ? "" : (" — " + a.value("note", std::string())).c_str());
    return 0;
  }
  daemon::Config c = ResolveConfig(g);
  buffer::Options o = c.buffer;
  o.dir = c.state_dir / "buffer";
  auto q = buffer::SpanQueue::Open(o);
  if (!q) return Die("no daemon answers and the store cannot be opened: " + q.error().message);
  auto r = buffer::Salvage(abs, [&](span::Batch&& b) -> Status {
    std::promise<buffer::StoreResult> p;
    auto f = p.get_future();
    (*q)->Append(std::move(b), true, [&p](const buffer::StoreResult& ar) { p.set_value(ar); });
    auto ar = f.get();
    if (!ar.ok) return Fail(Error::Io(ar.error));
    if (ar.refused_full > 0) return Fail(Error::Io("the buffer is full (buffer.on_full = reject); salvage again later"));
    return {};
  });
  if (!r) return Die("salvage failed: " + r.error().message, 1);
  std::printf("salvaged %llu spans (%llu unreadable)%s\n", static_cast<unsigned long long>(r->spans),
              static_cast<unsigned long long>(r->unreadable),
              r->repair_note.empty() ? "" : (" — " + r->repair_note).c_str());
  return 0;
}

int CmdRejected(const Globals& g, bool as_json, size_t limit) {
  auto q = OpenStore(g);
  if (!q) return Die(q.error().message);
  auto entries = (*q)->quarantine().List(limit);
  if (!entries) return Die(entries.error().message);
  for (const auto& e : *entries) {
    if (as_json) {
      std::printf("%s\n", e.json.c_str());
      continue;
    }
    json j = json::parse(e.json, nullptr, false);
    if (!j.is_object()) continue;
    std::string where = j.value("transport", std::string());
    if (j.contains("pid")) where += " pid " + j["pid"].dump();
    std::printf("%s  %s  %s: %s\n", j.value("time", std::string()).c_str(), where.c_str(),
                j.value("kind", std::string()).c_str(), j.value("reason", std::string()).c_str());
    std::string ex = j.value("excerpt", std::string());
    if (ex.size() > 200) ex = ex.substr(0, 200) + "...";
    for (char& c : ex) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::printf("    %s\n", ex.c_str());
  }
  return 0;
}

// Sends one control line and returns the parsed answer.
Result<json> Control(const Globals& g, const std::string& line,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (!client) return Fail(client.error());
  if (auto w = client->Write(line + "\n"); !w) return Fail(w.error());
  auto answer = client->ReadLine(timeout);
  if (!answer) return Fail(answer.error());
  json j = json::parse(*answer, nullptr, false);
  if (!j.is_object()) return Fail(Error::Invalid("unexpected answer: " + *answer));
  // An admin line from a peer without admin rights (docs/security.md).
  if (j.value("ok", true) == false && j.value("error", std::string()).starts_with("permission denied")) {
    return Fail(Error::Unavailable(j.value("error", std::string()) + "; run it as root or as the daemon's user"));
  }
  return j;
}

struct DeadLetterArgs {
  bool as_json = false;
  size_t limit = 100;
  std::string upstream;
  std::vector<uint64_t> ids;
};

int CmdDeadLetterList(const Globals& g, const DeadLetterArgs& a) {
  auto q = OpenStore(g);
  if (!q) return Die(q.error().message);
  buffer::DeadLetterFilter f{a.ids, a.upstream};
  auto entries = (*q)->dead_letters().List(f, a.limit);
  if (!entries) return Die(entries.error().message);
  for (const auto& e : *entries) {
    if (a.as_json) {
      std::printf("%s\n", e.ToJson().c_str());
      continue;
    }
    json span = json::parse(e.span_json, nullptr, false);
    std::string span_id = span.is_object() ? span.value("span_id", std::string()) : std::string();
    std::string name = span.is_object() ? span.value("name", std::string()) : std::string();
    std::printf("%6llu  %s  %s  span %s (%s): %s\n", static_cast<unsigned long long>(e.id),
                FormatRfc3339(e.time_ns).c_str(), e.upstream.c_str(), span_id.c_str(), name.c_str(), e.reason.c_str());
    std::string body = e.response.size() > 200 ? e.response.substr(0, 200) + "..." : e.response;
    for (char& c : body) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    if (!body.empty()) std::printf("        answer: %s\n", body.c_str());
  }
  return 0;
}

// Replay or purge: through the running daemon, or on the store directly when
// no daemon runs (it holds the store's lock while it does).
int CmdDeadLetterChange(const Globals& g, const std::string& verb, const DeadLetterArgs& a) {
  json line = {{"$dead_letter", verb}};
  if (!a.upstream.empty()) line["upstream"] = a.upstream;
  if (!a.ids.empty()) line["ids"] = a.ids;
  const char* counted = verb == "replay" ? "replayed" : "purged";
  auto answer = Control(g, line.dump());
  if (!answer && answer.error().message.starts_with("permission denied")) return Die(answer.error().message, 1);
  if (answer) {
    if (!answer->value("ok", false)) return Die(verb + " failed: " + answer->value("error", std::string()), 1);
    std::printf("%s %llu\n", counted, answer->value(counted, 0ull));
    return 0;
  }
  daemon::Config c = ResolveConfig(g);
  std::filesystem::path dir = c.state_dir / "buffer";
  if (!std::filesystem::exists(dir / "CURRENT")) {
    return Die("no daemon answers (" + answer.error().message + ") and no buffer in " + dir.string());
  }
  buffer::Options o = c.buffer;
  o.dir = dir;
  auto q = buffer::SpanQueue::Open(o);
  if (!q)
    return Die("no daemon answers (" + answer.error().message +
               ") and the store cannot be opened: " + q.error().message);
  buffer::DeadLetterFilter f{a.ids, a.upstream};
  auto n = verb == "replay" ? (*q)->dead_letters().Replay(f) : (*q)->dead_letters().Purge(f);
  if (!n) return Die(verb + " failed: " + n.error().message, 1);
  std::printf("%s %zu\n", counted, *n);
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

struct QuoteArgs {
  std::string model, provider, at;
  uint64_t input = 0, output = 0, cache_read = 0, cache_write = 0, reasoning = 0;
  std::vector<std::string> tables;
  bool as_json = false;
};

std::string Usd(int64_t picodollars) { return cost::FormatDecimal(picodollars, 12); }
std::string PerMtok(cost::PriceUnits units) { return cost::FormatDecimal(units, cost::kPriceScale); }

int CmdQuote(const QuoteArgs& a) {
  auto book = cost::LoadPriceBook(a.tables);
  if (!book) return Die(book.error().message);
  int64_t at = NowNanos();
  if (!a.at.empty()) {
    auto t = ParseRfc3339(a.at);
    if (!t) return Die("--at " + a.at + " is not an RFC 3339 time");
    at = *t;
  }
  span::Usage usage;
  usage.input_tokens = a.input;
  usage.output_tokens = a.output;
  usage.cache_read_tokens = a.cache_read;
  usage.cache_write_tokens = a.cache_write;
  usage.reasoning_tokens = a.reasoning;
  auto match = (*book)->Lookup(a.provider, a.model, at, a.input);
  if (!match) return Die("no price for model \"" + a.model + "\"" + (a.provider.empty() ? "" : " of " + a.provider), 1);
  auto c = cost::PriceBook::Compute(*match, usage);
  if (!c) return Die(c.error().message, 1);
  if (a.as_json) {
    // The cost object exactly as spans carry it (exact decimals; re-dumping it
    // through a JSON library would print doubles), plus where it came from.
    std::string out;
    cost::AppendCostJson(*c, out);
    out.pop_back();
    out += ",\"table\":" + json(match->table->source()).dump();
    if (!c->version.empty()) out += ",\"version\":" + json(c->version).dump();
    if (!c->window.empty()) out += ",\"window\":" + json(c->window).dump();
    std::printf("%s}\n", out.c_str());
    return 0;
  }
  const cost::ResolvedPrices& p = match->prices;
  std::printf("model      %s (price %s from %s%s%s)\n", a.model.c_str(), c->price_id.c_str(),
              match->table->source().c_str(), c->version.empty() ? "" : (", version from " + c->version).c_str(),
              c->window.empty() ? "" : (", time-of-day " + c->window).c_str());
  std::printf("%-12s %12s %16s %18s\n", "part", "tokens", "USD per 1M", "USD");
  auto row = [](const char* name, uint64_t tokens, cost::PriceUnits price, int64_t usd) {
    std::printf("%-12s %12llu %16s %18s\n", name, static_cast<unsigned long long>(tokens), PerMtok(price).c_str(),
                Usd(usd).c_str());
  };
  row("input", a.input - std::min(a.input, a.cache_read + a.cache_write), p.input, c->input);
  row("cache_read", a.cache_read, p.cache_read, c->cache_read);
  row("cache_write", a.cache_write, p.cache_write, c->cache_write);
  row("output", a.output - std::min(a.output, a.reasoning), p.output, c->output);
  row("reasoning", a.reasoning, p.reasoning, c->reasoning);
  if (c->request != 0) std::printf("%-12s %12s %16s %18s\n", "per request", "", "", Usd(c->request).c_str());
  std::printf("%-12s %12s %16s %18s\n", "total", "", "", Usd(c->total).c_str());
  return 0;
}

int CmdPricesList(const std::vector<std::string>& tables, const std::string& provider, bool as_json) {
  auto book = cost::LoadPriceBook(tables);
  if (!book) return Die(book.error().message);
  std::string want = provider.empty() ? "" : cost::CanonicalProvider(provider);
  for (const auto& t : (*book)->tables()) {
    for (const auto& m : t->models()) {
      if (!want.empty() && m.provider != want) continue;
      cost::ResolvedPrices p = cost::Resolve(m.prices, 0);
      if (as_json) {
        json j = {{"table", t->source()},
                  {"provider", m.provider},
                  {"model", m.id},
                  {"input", PerMtok(p.input)},
                  {"output", PerMtok(p.output)},
                  {"cache_read", PerMtok(p.cache_read)},
                  {"cache_write", PerMtok(p.cache_write)},
                  {"versions", m.versions.size()},
                  {"tiers", m.prices.tiers.size()}};
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%-16s %-48s in %-10s out %-10s cache_read %-10s%s%s\n", m.provider.c_str(), m.id.c_str(),
                    PerMtok(p.input).c_str(), PerMtok(p.output).c_str(), PerMtok(p.cache_read).c_str(),
                    m.prices.tiers.empty() ? "" : "  (tiered)", m.versions.empty() ? "" : "  (versioned)");
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spanvault: the command-line client of spanvaultd"};
  app.set_version_flag("--version", std::string("spanvault ") + SPANVAULT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("-c,--config", g.config_file, "the daemon's TOML config (to find its sockets and state)");
  app.add_option("--state-dir", g.state_dir, "the daemon's state dir");
  app.add_option("--runtime-dir", g.runtime_dir, "the daemon's runtime dir (where its sockets are)");
  app.add_option("--socket", g.socket, "the stream socket path (overrides --runtime-dir)");

  std::string file;
  bool sync = false, as_json = false;
  size_t limit = 100;
  auto* send = app.add_subcommand("send", "send NDJSON spans (stdin or FILE) over the stream socket");
  send->add_option("file", file, "NDJSON file (default: stdin)");
  send->add_flag("--sync", sync, "wait until everything is durable; print accepted/rejected; exit 1 on rejects");
  auto* status = app.add_subcommand("status", "show the running daemon's counters and buffer");
  status->add_flag("--json", as_json, "print JSON");
  auto* reload_config = app.add_subcommand(
      "reload", "make the running daemon re-read its configuration (same as SIGHUP) and print what changed");
  reload_config->add_flag("--json", as_json, "print the report as JSON");
  auto* buf = app.add_subcommand("buffer", "inspect the buffer (works with the daemon stopped)");
  buf->require_subcommand(1);
  auto* dump = buf->add_subcommand("dump", "print the buffered spans as NDJSON");
  std::string salvage_dir;
  auto* salvage = buf->add_subcommand(
      "salvage", "re-queue every span still readable in a damaged store (one from elsewhere, or a moved-aside buffer.corrupt-* the daemon kept)");
  salvage->add_option("dir", salvage_dir, "the moved-aside store")->required();
  auto* rejected = app.add_subcommand("rejected", "list quarantined (refused) payloads, newest first");
  rejected->add_flag("--json", as_json, "one JSON object per line");
  rejected->add_option("-n,--limit", limit, "at most this many (default 100)");

  CheckArgs check_args;
  auto* check = app.add_subcommand("check", "exit 0 when the daemon is healthy, else 1 with a one-line reason");
  check->add_option("--max-pending-age", check_args.max_pending_age_s,
                    "seconds of backlog a failing upstream may hold before it counts as unhealthy (default 300)");
  check->add_option("--max-fill", check_args.max_fill, "buffer fill (0..1) that counts as unhealthy (default 0.9)");
  DeadLetterArgs dl;
  auto* dead = app.add_subcommand("dead-letter", "spans an upstream refused for good");
  dead->require_subcommand(1);
  auto* dl_list = dead->add_subcommand("list", "list them, newest first (works with the daemon stopped)");
  dl_list->add_flag("--json", dl.as_json, "one JSON object per line, with the span");
  dl_list->add_option("-n,--limit", dl.limit, "at most this many (default 100)");
  dl_list->add_option("--upstream", dl.upstream, "only those refused by this upstream");
  auto* dl_replay = dead->add_subcommand(
      "replay", "queue them again (all upstreams get them again; backends deduplicate by span id)");
  dl_replay->add_option("--upstream", dl.upstream, "only those refused by this upstream");
  dl_replay->add_option("ids", dl.ids, "only these ids (default: all)");
  auto* dl_purge = dead->add_subcommand("purge", "delete them");
  dl_purge->add_option("--upstream", dl.upstream, "only those refused by this upstream");
  dl_purge->add_option("ids", dl.ids, "only these ids (default: all)");

  auto* prices = app.add_subcommand("prices", "model prices and costs");
  prices->require_subcommand(1);
  QuoteArgs q;
  std::string list_provider;
  auto* quote = prices->add_subcommand("quote", "what a request costs (no daemon needed)");
  quote->add_option("--model", q.model, "model name")->required();
  quote->add_option("--provider", q.provider, "provider (openai, anthropic, aws.bedrock, ...)");
  quote->add_option("--input-tokens", q.input, "input tokens, including cached ones");
  quote->add_option("--output-tokens", q.output, "output tokens, including reasoning");
  quote->add_option("--cache-read-tokens", q.cache_read, "cached input tokens read");
  quote->add_option("--cache-write-tokens", q.cache_write, "input tokens written to the cache");
  quote->add_option("--reasoning-tokens", q.reasoning, "reasoning tokens");
  quote->add_option("--at", q.at, "when the request started (RFC 3339; default now)");
  quote->add_option("--price-table", q.tables, "extra price table (before the built-in one); repeatable");
  quote->add_flag("--json", q.as_json, "print JSON");
  auto* list = prices->add_subcommand("list", "list priced models (no daemon needed)");
  list->add_option("--provider", list_provider, "only this provider");
  list->add_option("--price-table", q.tables, "extra price table (before the built-in one); repeatable");
  list->add_flag("--json", as_json, "one JSON object per line");
  auto* unpriced = prices->add_subcommand("unpriced", "models the running daemon saw without a price");
  unpriced->add_flag("--json", as_json, "print JSON");
  auto* reload = prices->add_subcommand(
      "reload", "make the running daemon re-read its price tables (SIGHUP and `spanvault reload` do it too)");

  CLI11_PARSE(app, argc, argv);
  if (quote->parsed()) return CmdQuote(q);
  if (list->parsed()) return CmdPricesList(q.tables, list_provider, as_json);
  if (unpriced->parsed()) {
    auto a = Control(g, R"({"$prices":"unpriced"})");
    if (!a) return Die(a.error().message);
    if (as_json) {
      std::printf("%s\n", (*a)["models"].dump(2).c_str());
      return 0;
    }
    for (const auto& m : (*a)["models"]) {
      std::string name = m.value("model", std::string());
      std::printf("%10llu  %s\n", m.value("spans", 0ull), name.empty() ? "(no model)" : name.c_str());
    }
    return 0;
  }
  if (reload->parsed()) {
    auto a = Control(g, R"({"$prices":"reload"})");
    if (!a) return Die(a.error().message);
    if (!a->value("ok", false))
      return Die("reload failed; the previous tables stay: " + a->value("error", std::string()), 1);
    std::printf("price tables reloaded\n");
    return 0;
  }
  if (send->parsed()) return CmdSend(g, file, sync);
  if (status->parsed()) return CmdStatus(g, as_json);
  if (reload_config->parsed()) return CmdReload(g, as_json);
  if (dump->parsed()) return CmdDump(g);
  if (salvage->parsed()) return CmdSalvage(g, salvage_dir);
  if (rejected->parsed()) return CmdRejected(g, as_json, limit);
  if (check->parsed()) return CmdCheck(g, check_args);
  if (dl_list->parsed()) return CmdDeadLetterList(g, dl);
  if (dl_replay->parsed()) return CmdDeadLetterChange(g, "replay", dl);
  if (dl_purge->parsed()) return CmdDeadLetterChange(g, "purge", dl);
  return 2;
}
