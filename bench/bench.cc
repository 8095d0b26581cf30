// spanvault-bench — a load generator for spanvaultd.
//
// Sends realistic ~1 KB LLM spans over one transport and reports how fast the
// daemon made them durable:
//
//   stream  NDJSON over the Unix stream socket, C parallel connections; each
//           connection writes its share in big writes of whole lines, then
//           sends {"$sync":1} and waits for the answer. Rate = accepted spans
//           / (first byte .. last barrier answer).
//   dgram   one span per datagram on the Unix datagram socket (blocking: the
//           kernel applies back-pressure). The daemon's counters are polled
//           with {"$status":true} over the stream socket until every span is
//           accepted or the count stops growing. Rate = accepted spans /
//           (first datagram .. last accepted span seen).
//   udp     one span per datagram over UDP, paced at --rate (or as fast as
//           possible); polled like dgram; reports loss and kernel drops.
//
// With --drain live|backlog it measures forwarding instead: it runs a fast
// HTTP sink (bench/sink.h) on the port the daemon's upstream points at, sends
// over the stream and reads the upstream's counters from $status (see the
// "Drain" section below). --sink runs only the sink.
//
// The spans are generated before timing: a pool of distinct spans whose
// span_id field (16 hex digits) is patched in place before each send, so every
// span sent has a unique span_id.
//
// Exit status: 0 done; 1 error (bad option, daemon unreachable, timeout);
// 2 done but the daemon accepted fewer spans than were sent on a transport
// that must not lose any (stream, dgram), or (drain) not every span was
// delivered or the sink saw a bad request.
//
// Files: bench.cc (options, main), pool.cc (span generation), senders.cc
// (stream and datagram runs), drain.cc (--drain, --sink), daemon_client.cc
// (sockets, $status, /proc), output.cc (summary line, Markdown row, JSON),
// util.cc (small helpers); bench.h declares what they share.

#include "bench/bench.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace spanvault::bench {
namespace {

// The daemon's default runtime dir (config/config.h DefaultRuntimeDir).
std::string DefaultRuntimeDir() {
  if (geteuid() == 0) return "/run/spanvault";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/spanvault";
  return "./spanvault-data/run";
}

void AddOptions(CLI::App& app, Options& opt) {
  app.add_option("-t,--transport", opt.transport, "stream | dgram | udp")
      ->check(CLI::IsMember({"stream", "dgram", "udp"}))
      ->capture_default_str();
  app.add_option("--runtime-dir", opt.runtime_dir,
                 "the daemon's runtime dir: derives --socket (spans.sock) and --dgram (spans.dgram)");
  app.add_option("--socket", opt.socket_path, "the NDJSON stream socket (also used for $status)");
  app.add_option("--dgram", opt.dgram_path, "the Unix datagram socket");
  app.add_option("--udp", opt.udp, "UDP target HOST:PORT")->capture_default_str();
  app.add_option("-n,--spans", opt.spans, "spans to send in total")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("-c,--connections", opt.connections,
                 "parallel senders (connections / sockets); default 2 for stream, 1 for dgram and udp")
      ->check(CLI::Range(1, 256));
  app.add_option("--rate", opt.rate,
                 "target spans/s, paced in small bursts (0 = as fast as possible); with --drain live: "
                 "the ingest rate while delivering")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--span-bytes", opt.span_bytes, "approximate size of each span in bytes")
      ->check(CLI::Range(kMinSpanBytes, kMaxSpanBytes))
      ->capture_default_str();
  app.add_option("--pid", opt.pid, "the daemon's pid: sample its CPU% and peak RSS over the run")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", opt.json, "print one JSON object instead of the summary line");
  app.add_flag(
      "--markdown-row", opt.markdown_row,
      "print one Markdown table row (transport | durability | spans | conns | spans/s | MiB/s | daemon CPU % | "
      "peak RSS MiB | loss)");
  app.add_option("--timeout", opt.timeout_s, "seconds without progress before giving up on a write or an answer")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--drain-timeout", opt.drain_timeout_s,
                 "dgram/udp: longest wait, after sending, for the daemon to accept everything")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--settle", opt.settle_s,
                 "dgram/udp: stop waiting once the accepted count has not grown for this long")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "seed for the span contents (0 = random)");
  app.add_flag("--sample", opt.sample, "print one generated span (as sent) and exit");
  app.add_option("--drain", opt.drain,
                 "drain benchmark over the stream: live (sink up while sending) | backlog (sink started once every "
                 "span is durable); needs --sink-port, the port the daemon's upstream points at")
      ->check(CLI::IsMember({"live", "backlog"}));
  app.add_option("--backlog-settle", opt.backlog_settle_s,
                 "backlog: seconds to wait after the last span is durable before the sink starts (default 3)");
  app.add_flag("--sink", opt.sink_only,
               "run only the HTTP sink on 127.0.0.1:--sink-port (0 = any; the port is printed) until SIGINT/SIGTERM");
  app.add_option("--sink-port", opt.sink_port, "the sink's TCP port on 127.0.0.1")->check(CLI::Range(0, 65535));
  app.add_option("--upstream", opt.upstream, "drain: the upstream to watch in $status (default: the first)");
  app.add_option("--poll-interval", opt.poll_interval_ms, "drain: $status poll interval in ms")
      ->check(CLI::Range(5, 10000))
      ->capture_default_str();
  app.add_option("--verify-every", opt.verify_every,
                 "sink: gunzip and parse the first request and every Nth after it (0 = only the first)")
      ->capture_default_str();
  app.add_option("--expect-gzip", opt.expect_gzip, "drain: fail unless every request is (on) / is not (off) gzip'd")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--expect-batch", opt.expect_batch,
                 "drain: the upstream's batch_max_spans: fail if a verified request holds more spans");
}

// The options that cannot go together or do not fit the transport; fills in
// what depends on others. False once the reason is printed.
bool CheckOptions(Options& opt) {
  if (!opt.drain.empty()) {
    if (opt.sink_port <= 0) {
      std::fprintf(stderr, "spanvault-bench: --drain needs --sink-port (the port in the upstream's endpoint)\n");
      return false;
    }
    if (opt.transport != "stream") {
      std::fprintf(stderr, "spanvault-bench: --drain sends over the stream transport only\n");
      return false;
    }
  }

  if (opt.connections == 0) opt.connections = opt.transport == "stream" ? 2 : 1;
  if (opt.json && opt.markdown_row) {
    std::fprintf(stderr, "spanvault-bench: --json and --markdown-row are exclusive\n");
    return false;
  }
  if (opt.transport == "udp" && opt.span_bytes > kMaxUdpSpanBytes - 1024) {
    std::fprintf(stderr, "spanvault-bench: --span-bytes %zu is too large for UDP (at most %zu)\n", opt.span_bytes,
                 kMaxUdpSpanBytes - 1024);
    return false;
  }
  if (opt.transport == "dgram" && opt.span_bytes > kMaxDgramSpanBytes - 1024) {
    std::fprintf(stderr, "spanvault-bench: --span-bytes %zu is too large for the datagram socket (at most %zu)\n",
                 opt.span_bytes, kMaxDgramSpanBytes - 1024);
    return false;
  }
  if (opt.pid > 0 && !ProcessCpuSeconds(opt.pid)) {
    std::fprintf(stderr, "spanvault-bench: warning: cannot read /proc/%d/stat; daemon CPU and RSS not reported\n",
                 opt.pid);
    opt.pid = 0;
  }
  return true;
}

// The socket paths, the id base and the pool of spans (one with --sample).
Context MakeContext(const Options& opt) {
  Context ctx;
  ctx.opt = opt;
  std::string runtime = opt.runtime_dir.empty() ? DefaultRuntimeDir() : opt.runtime_dir;
  ctx.stream_path = !opt.socket_path.empty() ? opt.socket_path : runtime + "/spans.sock";
  ctx.dgram_path = !opt.dgram_path.empty() ? opt.dgram_path : runtime + "/spans.dgram";

  std::random_device rd;
  uint64_t seed =
      opt.seed != 0 ? opt.seed : (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(MonoNs());
  {
    // Ids are random per run (so reruns against the same daemon do not repeat
    // span_ids), whatever the content seed.
    std::mt19937_64 idrng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(MonoNs()));
    ctx.id_base = idrng();
  }
  size_t pool_count = std::min<size_t>({kMaxPoolSpans, std::max<size_t>(kDatagramBatch, kMaxPoolBytes / opt.span_bytes),
                                        static_cast<size_t>(std::min<uint64_t>(opt.spans, kMaxPoolSpans))});
  pool_count = std::max<size_t>(pool_count, 1);
  if (opt.sample) pool_count = 1;
  ctx.pool = MakePool(pool_count, opt.span_bytes, seed);
  return ctx;
}

// --drain: the drain run and its report.
int DrainAndReport(Context& ctx, StatusClient& status, const Result& r) {
  const Options& opt = ctx.opt;
  DrainResult d;
  d.ingest = r;
  int drc = RunDrain(ctx, status, d);
  if (drc != 0) return drc;
  Result& in = d.ingest;
  if (in.sent > 0) in.avg_span_bytes = static_cast<double>(in.bytes_sent) / static_cast<double>(in.sent);
  for (const auto& w : d.warnings) std::fprintf(stderr, "spanvault-bench: warning: %s\n", w.c_str());
  for (const auto& e : in.errors) std::fprintf(stderr, "spanvault-bench: rejected: %s\n", e.c_str());
  for (const auto& p : d.problems) std::fprintf(stderr, "\n*** PROBLEM: %s ***\n", p.c_str());
  std::string human = DrainHumanLine(opt, d);
  if (opt.json) {
    std::printf("%s\n", DrainToJson(opt, d).dump().c_str());
  } else if (opt.markdown_row) {
    std::fprintf(stderr, "%s\n", human.c_str());
    std::printf("%s\n", DrainMarkdownRow(opt, d).c_str());
  } else {
    std::printf("%s\n", human.c_str());
  }
  std::fflush(stdout);
  return d.problems.empty() ? 0 : 2;
}

// An ingest run's report: warnings on stderr, the result on stdout. 2 when a
// transport that must not lose anything did.
int ReportIngest(const Options& opt, Result& r) {
  // Transports that must not lose anything.
  bool mismatch = false;
  if (r.accepted_known && opt.transport != "udp" && (r.accepted != r.sent || r.rejected > 0)) {
    mismatch = true;
    std::fprintf(stderr, "\n*** WARNING: %s: the daemon accepted %s of %s spans sent (%s missing, %s rejected) ***\n",
                 opt.transport.c_str(), Commas(r.accepted).c_str(), Commas(r.sent).c_str(),
                 Commas(r.sent > r.accepted ? r.sent - r.accepted : 0).c_str(), Commas(r.rejected).c_str());
    for (const auto& e : r.errors) std::fprintf(stderr, "***   %s\n", e.c_str());
    std::fprintf(stderr, "\n");
    r.warnings.push_back("accepted != sent");
  }
  if (r.accepted_known && opt.transport == "udp" && r.lost() > 0) {
    std::fprintf(stderr, "spanvault-bench: note: udp lost %s of %s spans (%.2f%%)\n", Commas(r.lost()).c_str(),
                 Commas(r.sent).c_str(), r.loss_pct());
  }
  for (const auto& w : r.warnings) {
    if (w != "accepted != sent") std::fprintf(stderr, "spanvault-bench: warning: %s\n", w.c_str());
  }

  std::string human = HumanLine(r);
  if (opt.json) {
    std::printf("%s\n", ToJson(r).dump().c_str());
  } else if (opt.markdown_row) {
    std::fprintf(stderr, "%s\n", human.c_str());
    std::printf("%s\n", MarkdownRow(r).c_str());
  } else {
    std::printf("%s\n", human.c_str());
  }
  std::fflush(stdout);
  return mismatch ? 2 : 0;
}

int Run(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "spanvault-bench: sends realistic LLM spans to spanvaultd and reports how fast it makes them durable.\n"};
  AddOptions(app, opt);
  CLI11_PARSE(app, argc, argv);

  if (opt.sink_only) return RunSinkOnly(opt);
  if (!CheckOptions(opt)) return 1;

  Context ctx = MakeContext(opt);
  if (opt.sample) {
    WriteHex64(ctx.id_base, &ctx.pool.data[ctx.pool.id_offset[0]]);
    std::fwrite(ctx.pool.data.data(), 1, ctx.pool.data.size(), stdout);
    return 0;
  }

  Result r;
  r.transport = opt.transport;
  r.requested = opt.spans;
  r.connections = opt.connections;
  r.rate_target = opt.rate;
  // Datagrams carry the span without its newline.
  r.avg_span_bytes = static_cast<double>(ctx.pool.data.size()) / static_cast<double>(ctx.pool.count()) -
                     (opt.transport == "stream" ? 0.0 : 1.0);

  StatusClient status;
  {
    std::string err;
    if (!status.Open(ctx.stream_path, &err)) {
      if (opt.transport == "stream") {
        std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
        return 1;
      }
      std::fprintf(stderr, "spanvault-bench: warning: %s\n", err.c_str());
    }
  }

  if (!opt.drain.empty()) return DrainAndReport(ctx, status, r);

  int rc = opt.transport == "stream" ? RunStream(ctx, status, r) : RunDatagram(ctx, status, r);
  if (r.sent > 0) r.avg_span_bytes = static_cast<double>(r.bytes_sent) / static_cast<double>(r.sent);
  if (rc != 0) {
    if (r.sent > 0) {
      std::fprintf(stderr, "spanvault-bench: %s run failed after sending %s spans\n", opt.transport.c_str(),
                   Commas(r.sent).c_str());
    }
    return rc;
  }
  return ReportIngest(opt, r);
}

}  // namespace
}  // namespace spanvault::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  try {
    return spanvault::bench::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spanvault-bench: error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "spanvault-bench: unknown error\n");
  }
  return 1;
}
