// bench/drain.cc — spanvault-bench's drain benchmark (--drain live|backlog)
// and --sink. Runs the HTTP sink (bench/sink.h) on the port the daemon's
// upstream points at, sends over the stream (RunStream), and polls the
// upstream's counters in $status until every span is delivered; then checks
// what the sink saw (bad requests, gzip, batch size) against what the run
// expects.

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "bench/bench.h"

namespace spanvault::bench {

// ---------------------------------------------------------------------------
// Drain: forwarding to a local sink
//
//   live     the sink runs from the start; spans are sent over the stream as
//            for --transport stream while $status is polled every
//            --poll-interval ms. Delivered rate = spans / (first byte sent ..
//            the first poll that sees delivered_spans grown by every span
//            sent and pending_spans 0).
//   backlog  nothing listens on --sink-port while the spans are sent (the
//            upstream's attempts are refused; the stream's $sync barrier
//            makes them durable). Then the sink starts; catch-up = sink start
//            .. the first poll that sees pending_spans 0 and every backlogged
//            span delivered. The daemon's CPU and peak RSS cover that window.

namespace {

// The upstream called `name` ("" = the first) in a $status answer.
UpstreamCounts ExtractUpstream(const json& status, const std::string& name) {
  UpstreamCounts c;
  auto ups = status.find("upstreams");
  if (ups == status.end() || !ups->is_array()) return c;
  for (const auto& u : *ups) {
    if (!u.is_object()) continue;
    auto n = u.find("name");
    std::string un = n != u.end() && n->is_string() ? n->get<std::string>() : std::string();
    if (!name.empty() && un != name) continue;
    c.found = true;
    c.name = un;
    c.delivered_spans = U64(u, "delivered_spans");
    c.delivered_batches = U64(u, "delivered_batches");
    c.pending_spans = U64(u, "pending_spans");
    c.sent_bytes = U64(u, "sent_bytes");
    c.failed_attempts = U64(u, "failed_attempts");
    c.retries = U64(u, "retries");
    c.splits = U64(u, "splits");
    c.dead_lettered = U64(u, "dead_lettered");
    if (auto e = u.find("last_error"); e != u.end() && e->is_string()) c.last_error = e->get<std::string>();
    return c;
  }
  return c;
}

struct DrainPoll {
  bool done = false;
  int64_t t_done = 0;  // the poll that saw everything delivered
  std::optional<double> cpu_done;
  std::optional<uint64_t> peak_rss_done;  // VmHWM then
  uint64_t max_rss = 0;                   // largest VmRSS seen by the polls
  UpstreamCounts last;
  std::string error;  // why polling stopped early ("" when done or stopped)
};

// Polls $status on its own connection until the upstream has delivered
// `target` spans more than `base_delivered` and has nothing pending, or
// `stop` is set, or nothing was delivered for --timeout seconds, or
// --drain-timeout seconds have passed.
DrainPoll PollDelivery(const std::string& socket_path, const Options& opt, uint64_t base_delivered, uint64_t target,
                       const std::atomic<bool>& stop) {
  DrainPoll p;
  StatusClient status;
  if (!status.Open(socket_path, &p.error)) return p;
  const int64_t t0 = MonoNs();
  const int64_t deadline = t0 + static_cast<int64_t>(opt.drain_timeout_s * 1e9);
  const int64_t stall = static_cast<int64_t>(opt.timeout_s * 1e9);
  uint64_t last_delivered = base_delivered;
  int64_t t_change = t0;
  int64_t next_poll = t0;
  while (!stop.load()) {
    std::string err;
    auto j = status.Query(opt.timeout_s, &err);
    const int64_t now = MonoNs();
    const std::optional<double> cpu = ProcessCpuSeconds(opt.pid);
    if (auto rss = CurrentRssBytes(opt.pid)) p.max_rss = std::max(p.max_rss, *rss);
    if (!j) {
      p.error = "status query failed: " + err;
      return p;
    }
    p.last = ExtractUpstream(*j, opt.upstream);
    const uint64_t delivered = p.last.delivered_spans - std::min(p.last.delivered_spans, base_delivered);
    if (delivered >= target && p.last.pending_spans == 0) {
      p.done = true;
      p.t_done = now;
      p.cpu_done = cpu;
      p.peak_rss_done = PeakRssBytes(opt.pid);
      return p;
    }
    if (p.last.delivered_spans != last_delivered) {
      last_delivered = p.last.delivered_spans;
      t_change = now;
    }
    if (now - t_change >= stall) {
      p.error = "no span delivered for " + Fixed(opt.timeout_s, 0) + " s (see --timeout)";
      return p;
    }
    if (now >= deadline) {
      p.error = "not everything delivered within --drain-timeout " + Fixed(opt.drain_timeout_s, 0) + " s";
      return p;
    }
    next_poll += static_cast<int64_t>(opt.poll_interval_ms) * 1'000'000;
    if (next_poll < now) next_poll = now;
    SleepUntilMono(next_poll);
  }
  return p;
}

// Checks what the sink saw against what the run expects.
void CheckDrain(const Options& opt, DrainResult& d) {
  const SinkStats& k = d.sink;
  const Result& r = d.ingest;
  if (!r.accepted_known || r.accepted != r.sent || r.rejected > 0) {
    d.problems.push_back("ingest: the daemon accepted " + Commas(r.accepted) + " of " + Commas(r.sent) +
                         " spans sent (" + Commas(r.rejected) + " rejected)");
  }
  if (!d.delivered_all) {
    d.problems.push_back("delivered " + Commas(d.delivered) + " of " + Commas(d.target) + " spans (pending " +
                         Commas(d.after.pending_spans) + ", last_error \"" + d.after.last_error + "\")");
  }
  if (d.delivered > d.target) {
    d.warnings.push_back("delivered_spans grew by " + Commas(d.delivered) + ", more than the " + Commas(d.target) +
                         " expected");
  }
  if (k.errors > 0) d.problems.push_back("sink: " + Commas(k.errors) + " bad requests; first: " + k.first_error);
  if (k.verified_requests == 0) d.problems.push_back("sink: no request was verified (none received?)");
  if (opt.expect_gzip == "on" && k.plain_requests > 0) {
    d.problems.push_back("sink: " + Commas(k.plain_requests) + " requests without gzip, expected gzip");
  }
  if (opt.expect_gzip == "off" && k.gzip_requests > 0) {
    d.problems.push_back("sink: " + Commas(k.gzip_requests) + " gzip'd requests, expected none");
  }
  if (opt.expect_batch > 0 && k.max_batch_spans > opt.expect_batch) {
    d.problems.push_back("sink: a request held " + Commas(k.max_batch_spans) + " spans, more than --expect-batch " +
                         Commas(opt.expect_batch));
  }
  const uint64_t batches = d.after.delivered_batches - std::min(d.after.delivered_batches, d.before.delivered_batches);
  if (k.requests != batches) {
    d.warnings.push_back("the sink answered " + Commas(k.requests) + " requests but delivered_batches grew by " +
                         Commas(batches));
  }
  const uint64_t failed = d.after.failed_attempts - std::min(d.after.failed_attempts, d.before.failed_attempts);
  if (failed > 0) {
    d.warnings.push_back(Commas(failed) + " failed attempts while the sink was up (last_error \"" + d.after.last_error +
                         "\")");
  }
  if (d.after.dead_lettered > d.before.dead_lettered || d.after.splits > d.before.splits) {
    d.problems.push_back("the upstream split or dead-lettered batches (splits " + Commas(d.after.splits) +
                         ", dead_lettered " + Commas(d.after.dead_lettered) + ")");
  }
}

// RunDrain's steps.

// The upstream's counts before the run (and the store's durability). 1 once
// the reason is printed.
int CountsBefore(StatusClient& status, const Options& opt, DrainResult& d, UpstreamCounts& base) {
  std::string err;
  auto j0 = status.Query(opt.timeout_s, &err);
  if (!j0) {
    std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
    return 1;
  }
  d.ingest.durability = StatusClient::Durability(*j0);
  base = ExtractUpstream(*j0, opt.upstream);
  if (!base.found) {
    std::fprintf(stderr, "spanvault-bench: the daemon has %s\n",
                 opt.upstream.empty() ? "no upstream configured" : ("no upstream named " + opt.upstream).c_str());
    return 1;
  }
  if (base.pending_spans > 0) {
    d.warnings.push_back("the upstream had " + Commas(base.pending_spans) + " spans pending before the run");
  }
  return 0;
}

bool StartSink(Sink& sink) {
  auto port = sink.Start();
  if (!port) std::fprintf(stderr, "spanvault-bench: sink: %s\n", port.error().c_str());
  return port.has_value();
}

// What the delivery is measured over: from t0 (the daemon's CPU then) to the
// poll that saw everything delivered.
struct DrainWindow {
  DrainPoll poll;
  int64_t t0 = 0;
  std::optional<double> cpu0;
};

// live: the sink up from the start, the delivery polled while sending.
int DrainLive(Context& ctx, StatusClient& status, Sink& sink, const UpstreamCounts& base, DrainResult& d,
              DrainWindow& w) {
  const Options& opt = ctx.opt;
  Result& r = d.ingest;
  if (!StartSink(sink)) return 1;
  d.before = base;
  std::atomic<bool> stop{false};
  std::thread poller([&] { w.poll = PollDelivery(ctx.stream_path, opt, base.delivered_spans, opt.spans, stop); });
  int rc = RunStream(ctx, status, r);
  if (rc != 0 || r.accepted != r.sent) stop.store(true);
  poller.join();
  if (rc != 0) return rc;
  w.t0 = r.t_start;
  w.cpu0 = r.daemon_cpu_start;
  d.target = r.sent;
  d.peak_rss_reset = r.peak_rss_reset;
  if (w.poll.done) d.lag_seconds = std::max(0.0, Seconds(w.poll.t_done - r.t_start) - r.wall_seconds);
  return 0;
}

// backlog: everything made durable first, then (after --backlog-settle) the
// sink starts and the catch-up is polled.
int DrainBacklog(Context& ctx, StatusClient& status, Sink& sink, const UpstreamCounts& base, DrainResult& d,
                 DrainWindow& w) {
  const Options& opt = ctx.opt;
  Result& r = d.ingest;
  int rc = RunStream(ctx, status, r);
  if (rc != 0) return rc;
  std::string err;
  auto j1 = status.Query(opt.timeout_s, &err);
  if (!j1) {
    std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
    return 1;
  }
  d.before = ExtractUpstream(*j1, opt.upstream);
  if (d.before.delivered_spans > base.delivered_spans) {
    d.warnings.push_back(Commas(d.before.delivered_spans - base.delivered_spans) +
                         " spans were delivered before the sink started: is something listening on port " +
                         std::to_string(opt.sink_port) + "?");
  }
  d.target = d.before.pending_spans;
  if (d.target < r.accepted) {
    d.warnings.push_back("only " + Commas(d.target) + " of the " + Commas(r.accepted) +
                         " spans accepted were pending when the sink started");
  }
  std::fprintf(stderr, "spanvault-bench: backlog of %s spans (ingest %s spans/s, peak rss %s MiB); starting the sink\n",
               Commas(d.target).c_str(), Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))).c_str(),
               r.daemon_peak_rss ? Fixed(static_cast<double>(*r.daemon_peak_rss) / 1048576.0, 0).c_str() : "n/a");
  // The daemon flushes its memtables and returns freed memory once intake
  // has been idle for a second: the drain is measured from a settled daemon,
  // as a backlog found after an outage would be.
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(opt.backlog_settle_s * 1000)));
  d.peak_rss_reset = ResetPeakRss(opt.pid);
  w.cpu0 = ProcessCpuSeconds(opt.pid);
  w.t0 = MonoNs();
  if (!StartSink(sink)) return 1;
  std::atomic<bool> stop{false};
  w.poll = PollDelivery(ctx.stream_path, opt, d.before.delivered_spans, d.target, stop);
  return 0;
}

// The delivery's figures from the last poll.
void SummariseDelivery(const DrainWindow& w, DrainResult& d) {
  const DrainPoll& poll = w.poll;
  if (!poll.error.empty()) d.warnings.push_back(poll.error);
  d.after = poll.last;
  d.delivered = d.after.delivered_spans - std::min(d.after.delivered_spans, d.before.delivered_spans);
  d.delivered_all = poll.done;
  d.max_rss_sampled = poll.max_rss;
  if (poll.done) {
    d.deliver_seconds = Seconds(poll.t_done - w.t0);
    if (w.cpu0 && poll.cpu_done && d.deliver_seconds > 0) {
      d.daemon_cpu_pct = 100.0 * (*poll.cpu_done - *w.cpu0) / d.deliver_seconds;
    }
    d.daemon_peak_rss = poll.peak_rss_done;
  }
}

}  // namespace

int RunDrain(Context& ctx, StatusClient& status, DrainResult& d) {
  const Options& opt = ctx.opt;
  d.scenario = opt.drain;
  UpstreamCounts base;
  if (int rc = CountsBefore(status, opt, d, base); rc != 0) return rc;

  SinkOptions so;
  so.port = static_cast<uint16_t>(opt.sink_port);
  so.verify_every = opt.verify_every;
  Sink sink(so);
  DrainWindow w;
  int rc = opt.drain == "live" ? DrainLive(ctx, status, sink, base, d, w) : DrainBacklog(ctx, status, sink, base, d, w);
  if (rc != 0) return rc;
  d.sink = sink.Stats();
  sink.Stop();

  SummariseDelivery(w, d);
  CheckDrain(opt, d);
  return 0;
}

// --sink: serve until SIGINT or SIGTERM; prints the port, then the counts.
int RunSinkOnly(const Options& opt) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the sink's thread starts: it inherits the mask
  SinkOptions so;
  so.port = static_cast<uint16_t>(std::max(opt.sink_port, 0));
  so.verify_every = opt.verify_every;
  Sink sink(so);
  auto port = sink.Start();
  if (!port) {
    std::fprintf(stderr, "spanvault-bench: sink: %s\n", port.error().c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  std::fprintf(stderr, "spanvault-bench: sink listening on 127.0.0.1:%u (SIGINT/SIGTERM to stop)\n",
               static_cast<unsigned>(*port));
  int sig = 0;
  sigwait(&set, &sig);
  SinkStats k = sink.Stats();
  sink.Stop();
  std::fprintf(stderr,
               "spanvault-bench: sink: %s connections, %s requests (%s gzip), %s body bytes, verified %s requests "
               "/ %s spans, %s errors%s%s\n",
               Commas(k.connections).c_str(), Commas(k.requests).c_str(), Commas(k.gzip_requests).c_str(),
               Commas(k.body_bytes).c_str(), Commas(k.verified_requests).c_str(), Commas(k.verified_spans).c_str(),
               Commas(k.errors).c_str(), k.first_error.empty() ? "" : "; first: ", k.first_error.c_str());
  return k.errors > 0 ? 2 : 0;
}

}  // namespace spanvault::bench
