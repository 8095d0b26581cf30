// bench/senders.cc — spanvault-bench's stream and datagram runs. Splits the
// spans between C senders, starts one thread per connection/socket together
// (each with its own copy of the pool, span_ids patched in place), writes
// NDJSON in large writes of whole lines ending with a $sync barrier (stream)
// or one span per datagram with sendmmsg (dgram, udp; paced at --rate), then
// measures: the barrier answers (stream) or $status polled until the daemon
// has accepted everything (dgram, udp), the daemon's CPU and peak RSS over
// the window, and our own CPU.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench.h"

namespace spanvault::bench {

namespace {

// Measurement bookkeeping shared by the transports.
struct Meter {
  int pid = 0;
  std::optional<double> cpu0;
  double self_cpu0 = 0;
  int64_t t0 = 0;
  bool rss_reset = false;
  double self_cpu_senders = 0;  // our CPU seconds when the last sender finished
  int64_t t_senders = 0;        // when the last sender finished

  void Start(int daemon_pid) {
    pid = daemon_pid;
    rss_reset = ResetPeakRss(pid);
    self_cpu0 = SelfCpuSeconds();
    cpu0 = ProcessCpuSeconds(pid);
    t0 = MonoNs();
  }
  // `cpu_end`: the daemon's CPU seconds sampled at the end of the window.
  void Finish(Result& r, std::optional<double> cpu_end, int64_t t_end) {
    double wall = Seconds(t_end - t0);
    if (cpu0 && cpu_end && wall > 0) r.daemon_cpu_pct = 100.0 * (*cpu_end - *cpu0) / wall;
    r.daemon_peak_rss = PeakRssBytes(pid);
    r.peak_rss_reset = rss_reset;
    double self_wall = Seconds(t_senders - t0);
    if (self_wall > 0) r.bench_cpu_pct = 100.0 * (self_cpu_senders - self_cpu0) / self_wall;
  }
  void SendersDone() {
    t_senders = MonoNs();
    self_cpu_senders = SelfCpuSeconds();
  }
};

// ---------------------------------------------------------------------------
// Senders

struct SenderPlan {
  uint64_t count = 0;      // spans to send
  uint64_t first_seq = 0;  // span_id = id_base + seq
  size_t first_span = 0;   // where in the pool to start
};

struct SenderResult {
  uint64_t sent = 0;
  uint64_t bytes = 0;
  int64_t t_sent = 0;    // when the last byte was handed to the kernel
  int64_t t_answer = 0;  // stream: when the barrier answer arrived
  bool answered = false;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  std::vector<std::string> errors;
  std::string error;  // fatal
};

std::vector<SenderPlan> Plan(uint64_t total, int connections, size_t pool_count) {
  std::vector<SenderPlan> plans(static_cast<size_t>(connections));
  uint64_t seq = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    plans[i].count = total / plans.size() + (i < total % plans.size() ? 1 : 0);
    plans[i].first_seq = seq;
    plans[i].first_span = i * pool_count / plans.size();
    seq += plans[i].count;
  }
  return plans;
}

// rate > 0: paced like the datagram sender, a write of at most ~0.5 ms worth
// of spans at a time.
void StreamSender(int fd, Pool& pool, SenderPlan plan, uint64_t id_base, double rate, const Options& opt,
                  SenderResult& res) {
  try {
    const size_t n = pool.count();
    size_t i = plan.first_span % n;
    uint64_t seq = plan.first_seq;
    uint64_t left = plan.count;
    const uint64_t burst = rate > 0 ? std::max<uint64_t>(static_cast<uint64_t>(rate / 2000.0), 1) : UINT64_MAX;
    const int64_t t0 = MonoNs();
    while (left > 0) {
      if (i == n) i = 0;
      if (rate > 0) {
        int64_t due = t0 + static_cast<int64_t>(static_cast<double>(plan.count - left) * 1e9 / rate);
        if (due > MonoNs()) SleepUntilMono(due);
      }
      size_t j = i;
      while (j < n && j - i < left && j - i < burst &&
             (j == i || pool.begin[j + 1] - pool.begin[i] <= kStreamWriteBytes)) {
        WriteHex64(id_base + seq++, &pool.data[pool.id_offset[j]]);
        ++j;
      }
      size_t bytes = pool.begin[j] - pool.begin[i];
      if (!WriteAll(fd, pool.data.data() + pool.begin[i], bytes, opt.timeout_s, &res.error)) return;
      res.sent += j - i;
      res.bytes += bytes;
      left -= j - i;
      i = j;
    }
    res.t_sent = MonoNs();
    static const std::string kSync = "{\"$sync\":1}\n";
    if (!WriteAll(fd, kSync.data(), kSync.size(), opt.timeout_s, &res.error)) return;
    std::string buf, line;
    for (;;) {
      if (!ReadLine(fd, buf, &line, opt.timeout_s, &res.error)) return;
      json a = json::parse(line, nullptr, false);
      if (!a.is_object() || !a.contains("$sync")) continue;  // not our answer
      res.t_answer = MonoNs();
      res.answered = true;
      res.accepted = U64(a, "accepted");
      res.rejected = U64(a, "rejected");
      if (auto e = a.find("error"); e != a.end() && e->is_string()) res.error = "barrier: " + e->get<std::string>();
      if (auto es = a.find("errors"); es != a.end() && es->is_array()) {
        for (const auto& e : *es) {
          if (res.errors.size() >= 5) break;
          std::string reason = e.is_object() && e.contains("reason") && e["reason"].is_string()
                                   ? e["reason"].get<std::string>()
                                   : e.dump();
          res.errors.push_back("line " + std::to_string(U64(e, "line")) + ": " + reason);
        }
      }
      return;
    }
  } catch (const std::exception& e) {
    res.error = std::string("internal error: ") + e.what();
  }
}

void DatagramSender(int fd, Pool& pool, SenderPlan plan, uint64_t id_base, double rate, const Options& opt, bool udp,
                    SenderResult& res) {
  try {
    const size_t n = pool.count();
    std::vector<mmsghdr> msgs(kDatagramBatch);
    std::vector<iovec> iov(kDatagramBatch);
    // Pace in bursts of about 0.5 ms worth of spans (1..kDatagramBatch).
    const uint64_t burst =
        rate > 0 ? std::clamp<uint64_t>(static_cast<uint64_t>(rate / 2000.0), 1, kDatagramBatch) : kDatagramBatch;
    const int64_t t0 = MonoNs();
    size_t next = plan.first_span % n;
    uint64_t seq = plan.first_seq;
    uint64_t done = 0;
    while (done < plan.count) {
      if (rate > 0) {
        int64_t due = t0 + static_cast<int64_t>(static_cast<double>(done) * 1e9 / rate);
        if (due > MonoNs()) SleepUntilMono(due);
      }
      size_t k = static_cast<size_t>(std::min<uint64_t>(burst, plan.count - done));
      for (size_t m = 0; m < k; ++m) {
        size_t s = (next + m) % n;
        WriteHex64(id_base + seq + m, &pool.data[pool.id_offset[s]]);
        iov[m].iov_base = &pool.data[pool.begin[s]];
        iov[m].iov_len = pool.line_bytes(s) - 1;  // without the '\n'
        std::memset(&msgs[m], 0, sizeof(mmsghdr));
        msgs[m].msg_hdr.msg_iov = &iov[m];
        msgs[m].msg_hdr.msg_iovlen = 1;
      }
      size_t off = 0;
      int busy_retries = 0;
      while (off < k) {
        int r = sendmmsg(fd, msgs.data() + off, static_cast<unsigned>(k - off), MSG_NOSIGNAL);
        if (r > 0) {
          for (size_t m = off; m < off + static_cast<size_t>(r); ++m) res.bytes += iov[m].iov_len;
          off += static_cast<size_t>(r);
          busy_retries = 0;
          continue;
        }
        int e = errno;
        if (r < 0 && e == EINTR) continue;
        if (r < 0 && (e == ENOBUFS || ((e == EAGAIN || e == EWOULDBLOCK) && udp))) {
          // Transient shortage of kernel buffers: back off briefly.
          if (++busy_retries > 100000) {
            res.error = "send keeps failing: " + Errno(e);
            return;
          }
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          continue;
        }
        if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
          res.error = "the daemon read no datagram for " + Fixed(opt.timeout_s, 0) + " s (see --timeout)";
        } else if (r < 0 && e == ECONNREFUSED) {
          res.error = udp ? "nothing is listening on UDP " + opt.udp + " (is spanvaultd running with this --udp?)"
                          : "the daemon's datagram socket went away (connection refused)";
        } else if (r < 0 && e == EMSGSIZE) {
          res.error = "a span of " + std::to_string(iov[off].iov_len) +
                      " bytes is too large for one datagram; lower --span-bytes";
        } else {
          res.error = "send failed: " + Errno(e);
        }
        res.sent += off;
        res.t_sent = MonoNs();
        return;
      }
      res.sent += k;
      done += k;
      seq += k;
      next = (next + k) % n;
    }
    res.t_sent = MonoNs();
  } catch (const std::exception& e) {
    res.error = std::string("internal error: ") + e.what();
  }
}

// Runs one sender thread per fd. Every sender first makes its own copy of the
// pool (it patches span_ids in place), then all start together at meter.t0.
template <typename Fn>
std::vector<SenderResult> RunSenders(size_t senders, const Pool& shared_pool, Meter& meter, int daemon_pid, Fn sender) {
  std::latch ready(static_cast<std::ptrdiff_t>(senders));
  std::atomic<bool> go{false};
  std::vector<SenderResult> results(senders);
  std::vector<std::thread> threads;
  threads.reserve(senders);
  for (size_t i = 0; i < senders; ++i) {
    threads.emplace_back([&, i] {
      std::optional<Pool> pool;
      try {
        pool.emplace(shared_pool);
      } catch (const std::exception& e) {
        results[i].error = std::string("cannot copy the span pool: ") + e.what();
      }
      ready.count_down();
      go.wait(false);
      if (pool) sender(i, *pool, results[i]);
    });
  }
  ready.wait();
  meter.Start(daemon_pid);
  go.store(true);
  go.notify_all();
  for (auto& t : threads) t.join();
  meter.SendersDone();
  return results;
}

}  // namespace

int RunStream(Context& ctx, StatusClient& status, Result& r) {
  const Options& opt = ctx.opt;
  std::vector<int> fds;
  for (int i = 0; i < opt.connections; ++i) {
    std::string err;
    int fd = ConnectUnix(ctx.stream_path, SOCK_STREAM, "stream socket", &err);
    if (fd < 0) {
      for (int f : fds) close(f);
      std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
      return 1;
    }
    SetSendTimeout(fd, opt.timeout_s);
    fds.push_back(fd);
  }
  auto plans = Plan(opt.spans, opt.connections, ctx.pool.count());
  const double per_sender_rate = opt.rate > 0 ? opt.rate / opt.connections : 0;
  Meter meter;
  auto results = RunSenders(fds.size(), ctx.pool, meter, opt.pid, [&](size_t i, Pool& pool, SenderResult& res) {
    StreamSender(fds[i], pool, plans[i], ctx.id_base, per_sender_rate, opt, res);
  });
  std::optional<double> cpu_end = ProcessCpuSeconds(opt.pid);
  for (int f : fds) close(f);

  int64_t t_end = meter.t0, t_sent = meter.t0;
  int failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const SenderResult& s = results[i];
    r.sent += s.sent;
    r.bytes_sent += s.bytes;
    r.accepted += s.accepted;
    r.rejected += s.rejected;
    t_sent = std::max(t_sent, s.t_sent);
    t_end = std::max(t_end, s.t_answer);
    for (const auto& e : s.errors) {
      if (r.errors.size() < 10) r.errors.push_back(e);
    }
    if (!s.error.empty()) {
      ++failed;
      std::fprintf(stderr, "spanvault-bench: stream connection %zu: %s\n", i + 1, s.error.c_str());
    }
  }
  r.accepted_known = failed == 0;
  r.t_start = meter.t0;
  r.daemon_cpu_start = meter.cpu0;
  r.send_seconds = Seconds(t_sent - meter.t0);
  r.wall_seconds = Seconds(t_end - meter.t0);
  meter.Finish(r, cpu_end, t_end);
  if (status.ok()) {
    std::string err;
    if (auto j = status.Query(opt.timeout_s, &err)) {
      if (r.durability.empty()) r.durability = StatusClient::Durability(*j);
    }
  }
  return failed > 0 ? 1 : 0;
}

namespace {

// RunDatagram's steps.

// The daemon's counters for the transport before sending (nullopt without
// $status: only send rates are reported then).
std::optional<Counts> CountersBefore(StatusClient& status, const Options& opt, const std::string& counter_name,
                                     Result& r) {
  std::optional<Counts> base;
  std::string err;
  if (status.ok()) {
    if (auto j = status.Query(opt.timeout_s, &err)) {
      base = StatusClient::Extract(*j, counter_name);
      r.durability = StatusClient::Durability(*j);
    } else {
      r.warnings.push_back("status query failed: " + err);
    }
  }
  if (!base) {
    r.warnings.push_back(
        "the daemon's counters ($status over the stream socket) are unavailable: only send rates "
        "are reported");
  }
  return base;
}

// One socket per sender (UDP ones with a 4 MiB send buffer). False once the
// reason is printed, with none left open.
bool OpenDatagramSockets(const Context& ctx, bool udp, std::vector<int>& fds) {
  const Options& opt = ctx.opt;
  std::string err;
  for (int i = 0; i < opt.connections; ++i) {
    int fd = udp ? ConnectUdp(opt.udp, &err) : ConnectUnix(ctx.dgram_path, SOCK_DGRAM, "datagram socket", &err);
    if (fd < 0) {
      for (int f : fds) close(f);
      fds.clear();
      std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
      return false;
    }
    SetSendTimeout(fd, opt.timeout_s);
    if (udp) {
      int sndbuf = 4 << 20;
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    fds.push_back(fd);
  }
  return true;
}

// Polls the daemon until it has accepted (or rejected) everything sent, or
// its count stops growing for --settle seconds, or --drain-timeout passes.
// Fills r's daemon-side counts; `t_last` and `cpu_last` become the time (and
// the daemon's CPU) of the poll where the count last changed.
void WaitForAccepted(StatusClient& status, const Options& opt, const std::string& counter_name, const Counts& base,
                     int64_t t_sent, Result& r, int64_t& t_last, std::optional<double>& cpu_last) {
  const bool udp = opt.transport == "udp";
  const int64_t deadline = t_sent + static_cast<int64_t>(opt.drain_timeout_s * 1e9);
  const int64_t settle = static_cast<int64_t>(opt.settle_s * 1e9);
  uint64_t last_seen = UINT64_MAX;
  int64_t t_change = MonoNs();
  bool timed_out = false;
  std::string err;
  for (;;) {
    auto j = status.Query(opt.timeout_s, &err);
    int64_t now = MonoNs();
    std::optional<double> cpu_now = ProcessCpuSeconds(opt.pid);
    if (!j) {
      r.warnings.push_back("status query failed while draining: " + err);
      break;
    }
    Counts c = StatusClient::Extract(*j, counter_name);
    r.accepted_known = true;
    r.accepted = c.accepted - std::min(c.accepted, base.accepted);
    r.rejected = c.rejected - std::min(c.rejected, base.rejected);
    r.daemon_received = c.received - std::min(c.received, base.received);
    if (udp) r.kernel_drops = c.kernel_drops - std::min(c.kernel_drops, base.kernel_drops);
    uint64_t progress = r.accepted + r.rejected;
    if (progress != last_seen) {
      // The count last changed at or before this poll: the window ends here.
      t_last = now;
      cpu_last = cpu_now;
      last_seen = progress;
      t_change = now;
    }
    if (progress >= r.sent) break;
    if (now - t_change >= settle) break;
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (timed_out) {
    r.warnings.push_back("the daemon was still accepting spans after --drain-timeout " + Fixed(opt.drain_timeout_s, 0) +
                         " s");
  }
}

}  // namespace

int RunDatagram(Context& ctx, StatusClient& status, Result& r) {
  const Options& opt = ctx.opt;
  const bool udp = opt.transport == "udp";
  const std::string counter_name = udp ? "udp" : "unix_dgram";

  std::optional<Counts> base = CountersBefore(status, opt, counter_name, r);
  std::vector<int> fds;
  if (!OpenDatagramSockets(ctx, udp, fds)) return 1;
  auto plans = Plan(opt.spans, opt.connections, ctx.pool.count());
  const double per_sender_rate = opt.rate > 0 ? opt.rate / opt.connections : 0;
  Meter meter;
  auto results = RunSenders(fds.size(), ctx.pool, meter, opt.pid, [&](size_t i, Pool& pool, SenderResult& res) {
    DatagramSender(fds[i], pool, plans[i], ctx.id_base, per_sender_rate, opt, udp, res);
  });

  int64_t t_sent = meter.t0;
  int failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const SenderResult& s = results[i];
    r.sent += s.sent;
    r.bytes_sent += s.bytes;
    t_sent = std::max(t_sent, s.t_sent);
    if (!s.error.empty()) {
      ++failed;
      std::fprintf(stderr, "spanvault-bench: %s sender %zu: %s\n", opt.transport.c_str(), i + 1, s.error.c_str());
    }
  }
  r.send_seconds = Seconds(t_sent - meter.t0);
  for (int f : fds) close(f);

  int64_t t_last = t_sent;
  std::optional<double> cpu_last = ProcessCpuSeconds(opt.pid);
  if (base) {
    WaitForAccepted(status, opt, counter_name, *base, t_sent, r, t_last, cpu_last);
    r.wall_seconds = Seconds(t_last - meter.t0);
  } else {
    r.wall_seconds = r.send_seconds;
    r.accepted = 0;
  }
  meter.Finish(r, cpu_last, t_last);
  return failed > 0 ? 1 : 0;
}

}  // namespace spanvault::bench
