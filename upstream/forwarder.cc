// The forwarder (contract and diagram: forwarder.h).
//
// Units: a batch read from the queue starts as one unit (one request). A
// permanent 4xx splits a unit into two halves, each its own request, until
// the span to blame is alone and goes to the dead-letter store. A batch is
// finished when its last unit is; the cursor then moves over the longest
// prefix of finished batches with one Ack (one RocksDB write).
//
// Every handler runs on strand_ except the encoding, which reads only the
// unit's own records and hands the request back to the strand. Handlers hold
// a shared_ptr to the Impl, so a Forwarder can be destroyed with requests in
// flight (Stop() cancels them first).
#include "upstream/forwarder.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>

#include "buffer/dead_letters.h"
#include "common/log.h"
#include "common/util.h"
#include "upstream/encoder.h"
#include "upstream/http_client.h"

namespace spanvault::upstream {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kErrorLogInterval = std::chrono::seconds(30);
// How often the cursor is persisted while batches complete. A crash loses at
// most this much acknowledgement: those batches are sent again.
constexpr auto kAckInterval = std::chrono::milliseconds(50);
constexpr size_t kResponseExcerpt = 4096;
// Finished batches waiting behind an unfinished one, at most (per slot).
constexpr size_t kTrackedPerSlot = 64;

int64_t NowMs() { return NowNanos() / 1000000; }

// A request's spans: [begin, end) of a batch read from the queue. Halves of
// a split share the batch's buffer.
struct Unit {
  uint64_t batch_first = 0;
  std::shared_ptr<const buffer::RecordBatch> batch;
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
  uint64_t seq(size_t i) const { return batch->entries[begin + i].seq; }
  int attempt = 0;  // failed attempts so far
  std::shared_ptr<const HttpRequest> request;
  std::unique_ptr<asio::steady_timer> retry_timer;
};
using UnitPtr = std::shared_ptr<Unit>;

struct BatchState {
  uint64_t end = 0;
  size_t units_left = 1;
  bool done = false;
};

}  // namespace

struct Forwarder::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, buffer::SpanQueue& q, UpstreamConfig c, ForwarderOptions o)
      : ioc(io),
        strand(asio::make_strand(io)),
        queue(q),
        config(std::move(c)),
        options(o),
        ack_timer(strand),
        linger_timer(strand),
        poll_timer(strand),
        rng(std::random_device{}()) {}

  asio::io_context& ioc;
  asio::strand<asio::io_context::executor_type> strand;
  buffer::SpanQueue& queue;
  const UpstreamConfig config;
  const ForwarderOptions options;
  std::unique_ptr<Encoder> encoder;
  std::shared_ptr<HttpClient> client;
  std::vector<std::pair<std::string, std::string>> headers;  // resolved; never logged
  std::string store_id;

  // strand state
  uint64_t acked = 0;    // the persisted cursor
  uint64_t ackable = 0;  // the end of the finished prefix (>= acked)
  Clock::time_point last_ack{};
  asio::steady_timer ack_timer;
  bool ack_armed = false;
  uint64_t read_pos = 0;
  std::map<uint64_t, BatchState> batches;  // by first seq
  size_t unfinished = 0;                   // batches not done
  std::vector<UnitPtr> waiting;            // units waiting for a retry timer
  size_t busy = 0;                         // units being encoded or on the wire
  asio::steady_timer linger_timer;
  bool linger_armed = false;
  bool linger_expired = false;
  asio::steady_timer poll_timer;
  bool stopping = false;
  std::mt19937_64 rng;
  Clock::time_point last_error_log{};
  uint64_t unlogged_errors = 0;
  std::atomic<bool> notified{false};
  std::atomic<uint64_t> in_flight{0};  // `unfinished`, for GetStats

  // Stop() waits for busy == 0 after stopping.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool drained = false;

  mutable std::mutex stats_mu;
  ForwarderStats stats;

  double Random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  template <typename F>
  void OnStrand(F&& f) {
    asio::post(strand, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(*self); });
  }

  // ------------------------------------------------------------ reading

  void Pump() {
    if (stopping) return;
    const size_t slots = config.concurrency;
    while (unfinished < slots && batches.size() < slots * kTrackedPerSlot) {
      const uint64_t next = queue.next_seq();
      if (next <= read_pos) return;
      const uint64_t available = next - read_pos;
      if (available < config.batch_max_spans && !linger_expired) {
        ArmLinger();
        return;
      }
      auto records = queue.Read(read_pos, config.batch_max_spans, config.batch_max_bytes);
      if (!records) {
        NoteError("reading the buffer: " + records.error().message);
        return;  // the poll timer tries again
      }
      linger_expired = false;
      if (linger_armed) {
        linger_timer.cancel();
        linger_armed = false;
      }
      if (records->empty()) {
        // Everything in [read_pos, next) was dropped by the buffer's bounds.
        batches[read_pos] = BatchState{next, 0, true};
        read_pos = next;
        AdvanceAcks();
        continue;
      }
      const uint64_t first = read_pos;
      const uint64_t end = records->entries.back().seq + 1;
      read_pos = end;
      batches[first] = BatchState{end, 1, false};
      ++unfinished;
      in_flight = unfinished;
      auto unit = std::make_shared<Unit>();
      unit->batch_first = first;
      unit->end = records->size();
      unit->batch = std::make_shared<const buffer::RecordBatch>(std::move(*records));
      Launch(unit);
    }
  }

  void ArmLinger() {
    if (linger_armed) return;
    linger_armed = true;
    linger_timer.expires_after(config.linger);
    linger_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->linger_armed = false;
      if (ec) return;
      self->linger_expired = true;
      self->Pump();
    });
  }

  void SchedulePoll() {
    poll_timer.expires_after(options.poll_interval);
    poll_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopping) return;
      self->Pump();
      self->SchedulePoll();
    });
  }

  // ------------------------------------------------------------ sending

  std::string IdempotencyKey(const Unit& u) const {
    return store_id + "-" + std::to_string(u.seq(0)) + "-" + std::to_string(u.seq(u.size() - 1) + 1);
  }

  // Encodes off the strand, then sends.
  void Launch(const UnitPtr& unit) {
    ++busy;
    asio::post(ioc, [self = shared_from_this(), unit] {
      std::vector<std::string_view> views;
      views.reserve(unit->size());
      for (size_t i = unit->begin; i < unit->end; ++i) views.emplace_back(unit->batch->json(i));
      auto req = std::make_shared<HttpRequest>();
      std::string plain;
      Status st = self->encoder->Encode(views, plain);
      if (st && self->config.gzip) {
        st = Gzip(plain, self->config.gzip_level, req->body);
      } else if (st) {
        req->body = std::move(plain);
      }
      if (st) {
        req->headers = self->headers;
        req->headers.emplace_back("Content-Type", std::string(self->encoder->content_type()));
        if (self->config.gzip) req->headers.emplace_back("Content-Encoding", "gzip");
        req->headers.emplace_back("Idempotency-Key", self->IdempotencyKey(*unit));
        unit->request = std::move(req);
      }
      self->OnStrand([unit, st](Impl& me) {
        --me.busy;
        if (!st) {
          // A span this format cannot carry is as refused as a 400 would make it.
          me.NoteError("encoding: " + st.error().message);
          me.OnResult(unit, AttemptResult{400, {}}, "encoding failed: " + st.error().message, {});
          return;
        }
        me.Send(unit);
      });
    });
  }

  void Send(const UnitPtr& unit) {
    if (stopping) {
      MaybeDrained();
      return;
    }
    ++busy;
    client->Post(unit->request, [self = shared_from_this(), unit](HttpOutcome outcome) {
      self->OnStrand([unit, outcome = std::move(outcome)](Impl& me) mutable {
        --me.busy;
        me.OnOutcome(unit, std::move(outcome));
      });
    });
  }

  void OnOutcome(const UnitPtr& unit, HttpOutcome outcome) {
    if (!outcome.ok) {
      if (outcome.error_kind == HttpErrorKind::kShutdown || stopping) {
        MaybeDrained();
        return;  // abandoned: not acked, sent again after the next start
      }
      OnResult(unit, AttemptResult{0, {}}, outcome.error, {});
      return;
    }
    const HttpResponse& r = outcome.response;
    std::string what = "HTTP " + std::to_string(r.status);
    OnResult(unit, AttemptResult{r.status, r.retry_after}, what, r.body);
  }

  void OnResult(const UnitPtr& unit, const AttemptResult& result, const std::string& what, const std::string& body) {
    const size_t n = unit->size();
    Decision d = Decide(result, n, unit->attempt + 1, config.retry, NowMs(), Random01());
    if (d.action == Action::kDelivered) {
      bool recovered = false;
      {
        std::lock_guard lk(stats_mu);
        recovered = !stats.healthy;
        stats.healthy = true;
        stats.paused = false;
        stats.last_success_ns = NowNanos();
        stats.delivered_spans += n;
        ++stats.delivered_batches;
        stats.sent_bytes += unit->request ? unit->request->body.size() : 0;
      }
      if (recovered) LOG_INFO("upstream delivering again", {{"upstream", config.name}});
      std::vector<std::string_view> views;
      views.reserve(n);
      for (size_t i = unit->begin; i < unit->end; ++i) views.emplace_back(unit->batch->json(i));
      if (auto note = encoder->InspectSuccess("", body, views)) {
        // 2xx with a partial success (OTLP): the backend refused some spans for
        // good without saying which; retrying would not help. Counted, logged.
        if (note->rejected_spans > 0) {
          {
            std::lock_guard lk(stats_mu);
            stats.rejected_by_upstream += static_cast<uint64_t>(note->rejected_spans);
          }
          LOG_WARN("upstream accepted a batch but refused some of its spans",
                   {{"upstream", config.name}, {"rejected_spans", note->rejected_spans}, {"message", note->message}});
        }
        // Spans the answer names as failed (Langfuse's 207): each goes on
        // alone, as the policy decides for a one-span batch with its status
        // (retried, or dead-lettered).
        if (!note->failed.empty()) {
          {
            std::lock_guard lk(stats_mu);
            stats.delivered_spans -= std::min<uint64_t>(stats.delivered_spans, note->failed.size());
          }
          FailSpans(unit, note->failed, result.status, body);
        }
      }
      FinishUnit(unit);
      return;
    }
    {
      std::lock_guard lk(stats_mu);
      ++stats.failed_attempts;
      stats.healthy = false;
      stats.last_error = what;
      stats.last_error_ns = NowNanos();
    }
    if (stopping) {
      MaybeDrained();
      return;
    }
    switch (d.action) {
      case Action::kDelivered:
        break;
      case Action::kRetry:
      case Action::kPause: {
        ++unit->attempt;
        if (d.action == Action::kPause) {
          {
            std::lock_guard lk(stats_mu);
            stats.paused = true;
          }
          LOG_ERROR("upstream refuses our credentials or redirects: paused, spans kept; check its endpoint and headers",
                    {{"upstream", config.name}, {"error", what}, {"retry_in_ms", d.delay.count()}});
        } else {
          LogFailure(what, d.delay, unit->attempt, d.from_retry_after);
        }
        int64_t newest = 0;
        for (size_t i = unit->begin; i < unit->end; ++i) newest = std::max(newest, unit->batch->entries[i].received_ns);
        if (NowNanos() - newest > std::chrono::duration_cast<std::chrono::nanoseconds>(options.max_age).count()) {
          LOG_WARN("spans older than max_age dropped after failed deliveries",
                   {{"upstream", config.name}, {"spans", n}, {"error", what}});
          std::lock_guard lk(stats_mu);
          stats.expired_spans += n;
        } else {
          Retry(unit, d.delay);
          return;
        }
        FinishUnit(unit);
        return;
      }
      case Action::kSplit: {
        {
          std::lock_guard lk(stats_mu);
          ++stats.splits;
        }
        LOG_DEBUG("upstream refused a batch: splitting it", {{"upstream", config.name}, {"spans", n}, {"error", what}});
        auto a = std::make_shared<Unit>();
        auto b = std::make_shared<Unit>();
        a->batch_first = b->batch_first = unit->batch_first;
        a->batch = b->batch = unit->batch;
        a->begin = unit->begin;
        a->end = b->begin = unit->begin + n / 2;
        b->end = unit->end;
        ++batches[unit->batch_first].units_left;
        Launch(a);
        Launch(b);
        return;
      }
      case Action::kDeadLetter: {
        const uint64_t seq = unit->seq(0);
        buffer::DeadLetter dl;
        dl.upstream = config.name;
        dl.time_ns = NowNanos();
        dl.seq = seq;
        dl.status = result.status;
        dl.reason = what + " for a single span";
        dl.response = body.substr(0, kResponseExcerpt);
        dl.span_json = std::string(unit->batch->json(unit->begin));
        if (auto st = queue.dead_letters().Add({std::move(dl)}); !st) {
          // Keep the span: try the whole exchange again later.
          ++unit->attempt;
          NoteError("dead-letter store: " + st.error().message);
          Retry(unit, Backoff(unit->attempt, config.retry, Random01()));
          return;
        }
        LOG_WARN("upstream refused a span for good: moved to the dead-letter store",
                 {{"upstream", config.name}, {"seq", seq}, {"status", result.status}});
        {
          std::lock_guard lk(stats_mu);
          ++stats.dead_lettered;
        }
        FinishUnit(unit);
        return;
      }
    }
  }

  void FailSpans(const UnitPtr& unit, const std::vector<FailedSpan>& failed, int batch_status,
                 const std::string& body) {
    LOG_DEBUG("upstream took a batch but not some of its spans",
              {{"upstream", config.name}, {"spans", unit->size()}, {"failed", failed.size()}});
    for (const FailedSpan& f : failed) {
      if (f.index >= unit->size()) continue;
      auto one = std::make_shared<Unit>();
      one->batch_first = unit->batch_first;
      one->batch = unit->batch;
      one->begin = unit->begin + f.index;
      one->end = one->begin + 1;
      ++batches[unit->batch_first].units_left;
      std::string what = "HTTP " + std::to_string(batch_status) + ", span status " + std::to_string(f.status);
      if (!f.message.empty()) what += ": " + f.message;
      OnResult(one, AttemptResult{f.status, {}}, what, f.message.empty() ? body : f.message);
    }
  }

  void Retry(const UnitPtr& unit, milliseconds delay) {
    {
      std::lock_guard lk(stats_mu);
      ++stats.retries;
    }
    unit->retry_timer = std::make_unique<asio::steady_timer>(strand);
    unit->retry_timer->expires_after(delay);
    waiting.push_back(unit);
    unit->retry_timer->async_wait([self = shared_from_this(), unit](boost::system::error_code ec) {
      std::erase(self->waiting, unit);
      if (ec || self->stopping) {
        self->MaybeDrained();
        return;
      }
      // A span split off an accepted batch has no request of its own yet.
      if (unit->request) {
        self->Send(unit);
      } else {
        self->Launch(unit);
      }
    });
  }

  void FinishUnit(const UnitPtr& unit) {
    auto it = batches.find(unit->batch_first);
    if (it == batches.end()) return;
    unit->batch.reset();
    unit->request.reset();
    if (--it->second.units_left == 0 && !it->second.done) {
      it->second.done = true;
      --unfinished;
      in_flight = unfinished;
      AdvanceAcks();
    }
    MaybeDrained();
    Pump();
  }

  // Moves `ackable` over the finished prefix; the cursor itself is written at
  // most every kAckInterval (one RocksDB write for many batches).
  void AdvanceAcks() {
    while (!batches.empty() && batches.begin()->second.done) {
      ackable = batches.begin()->second.end;
      batches.erase(batches.begin());
    }
    if (ackable <= acked) return;
    if (Clock::now() - last_ack >= kAckInterval || stopping) {
      FlushAck();
    } else if (!ack_armed) {
      ack_armed = true;
      ack_timer.expires_at(last_ack + kAckInterval);
      ack_timer.async_wait([self = shared_from_this()](boost::system::error_code) {
        self->ack_armed = false;
        self->FlushAck();
      });
    }
  }

  void FlushAck() {
    if (ackable <= acked) return;
    last_ack = Clock::now();
    if (auto st = queue.Ack(config.name, ackable); !st) {
      // The batches are delivered; only the cursor did not move. It moves with
      // the next ack (or the spans are sent again after a restart).
      NoteError("persisting the cursor: " + st.error().message);
      return;
    }
    acked = ackable;
    std::lock_guard lk(stats_mu);
    stats.acked_seq = acked;
  }

  // ------------------------------------------------------------ logging, stop

  void LogFailure(const std::string& what, milliseconds delay, int attempt, bool from_retry_after) {
    auto now = Clock::now();
    if (now - last_error_log < kErrorLogInterval) {
      ++unlogged_errors;
      return;
    }
    LOG_WARN("upstream delivery failed; retrying", {{"upstream", config.name},
                                                    {"error", what},
                                                    {"attempt", attempt},
                                                    {"retry_in_ms", delay.count()},
                                                    {"retry_after", from_retry_after},
                                                    {"failures_not_logged", unlogged_errors}});
    last_error_log = now;
    unlogged_errors = 0;
  }

  void NoteError(const std::string& what) {
    {
      std::lock_guard lk(stats_mu);
      stats.last_error = what;
      stats.last_error_ns = NowNanos();
    }
    LOG_ERROR("forwarder error", {{"upstream", config.name}, {"error", what}});
  }

  void MaybeDrained() {
    if (!stopping || busy > 0) return;
    FlushAck();
    std::lock_guard lk(stop_mu);
    drained = true;
    stop_cv.notify_all();
  }
};

// ---------------------------------------------------------------- Forwarder

Forwarder::Forwarder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Forwarder::~Forwarder() { Stop(milliseconds(0)); }

const std::string& Forwarder::name() const { return impl_->config.name; }

Result<std::unique_ptr<Forwarder>> Forwarder::Create(asio::io_context& ioc, buffer::SpanQueue& queue,
                                                     const UpstreamConfig& config, ForwarderOptions options) {
  auto problems = config.Validate();
  if (!problems.empty()) return Fail(Error::Invalid(problems.front()));
  auto impl = std::make_shared<Impl>(ioc, queue, config, options);
  auto encoder = MakeEncoder(config);
  if (!encoder) return Fail(encoder.error());
  impl->encoder = std::move(*encoder);
  auto headers = ResolveHeaders(config.headers);
  if (!headers) return Fail(Error::Invalid("upstream " + config.name + ": " + headers.error().message));
  impl->headers = std::move(*headers);
  for (auto& h : impl->encoder->extra_headers()) impl->headers.push_back(std::move(h));
  auto url = EffectiveEndpoint(config);
  if (!url) return Fail(Error::Invalid("upstream " + config.name + ": " + url.error().message));
  auto endpoint = ParseEndpoint(*url);
  if (!endpoint) return Fail(Error::Invalid("upstream " + config.name + ": " + endpoint.error().message));
  HttpClientOptions ho;
  ho.endpoint = *endpoint;
  ho.tls_ca_file = config.tls_ca_file;
  ho.tls_insecure_skip_verify = config.tls_insecure_skip_verify;
  ho.timeout = config.timeout;
  ho.max_connections = config.concurrency;
  ho.max_response_bytes = config.max_response_bytes;
  auto client = HttpClient::Create(ioc, ho);
  if (!client) return Fail(Error::Invalid("upstream " + config.name + ": " + client.error().message));
  impl->client = std::move(*client);
  impl->store_id = queue.store_id();
  if (config.tls_insecure_skip_verify && endpoint->tls) {
    LOG_WARN("TLS certificate verification is OFF for this upstream: anyone on the path can read and change spans",
             {{"upstream", config.name}, {"endpoint", RedactEndpoint(config.endpoint)}});
  }
  auto pos = queue.ConsumerPosition(config.name);
  if (!pos) return Fail(pos.error());
  impl->acked = impl->ackable = impl->read_pos = *pos;
  impl->stats.name = config.name;
  impl->stats.endpoint = RedactEndpoint(*url);
  impl->stats.format = config.format;
  impl->stats.acked_seq = *pos;
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

void WarnIfCleartextCredentials(const UpstreamConfig& config) {
  std::vector<std::string> credentials = CleartextCredentials(config);
  if (credentials.empty()) return;
  LOG_WARN(
      "credentials go to this upstream in clear text: its endpoint is plain http:// to a host that is not loopback; "
      "anyone on the path can read them (use https://)",
      {{"upstream", config.name}, {"endpoint", RedactEndpoint(config.endpoint)}, {"credentials", credentials}});
}

void Forwarder::Start() {
  WarnIfCleartextCredentials(impl_->config);
  impl_->OnStrand([](Impl& me) {
    LOG_INFO("forwarding", {{"upstream", me.config.name}, {"endpoint", me.stats.endpoint}, {"from_seq", me.read_pos}});
    me.Pump();
    me.SchedulePoll();
  });
}

void Forwarder::Notify() {
  if (impl_->notified.exchange(true)) return;
  impl_->OnStrand([](Impl& me) {
    me.notified = false;
    me.Pump();
  });
}

void Forwarder::Stop(milliseconds grace) {
  auto& me = *impl_;
  {
    std::lock_guard lk(me.stop_mu);
    if (me.drained) return;
  }
  me.OnStrand([](Impl& m) {
    m.stopping = true;
    m.linger_timer.cancel();
    m.poll_timer.cancel();
    m.ack_timer.cancel();
    for (auto& u : m.waiting) u->retry_timer->cancel();
    m.MaybeDrained();
  });
  std::unique_lock lk(me.stop_mu);
  if (!me.stop_cv.wait_for(lk, grace, [&] { return me.drained; })) {
    lk.unlock();
    LOG_WARN("shutdown grace over: cancelling requests in flight (their spans are sent again after restart)",
             {{"upstream", me.config.name}});
    me.client->Shutdown();
    lk.lock();
    // Shutdown fails every request at once; their handlers need the io threads.
    if (!me.stop_cv.wait_for(lk, std::chrono::seconds(5), [&] { return me.drained; })) {
      LOG_ERROR("forwarder did not drain after cancelling", {{"upstream", me.config.name}});
      me.drained = true;
    }
  }
  lk.unlock();
  me.client->Shutdown();
}

ForwarderStats Forwarder::GetStats() const {
  ForwarderStats s;
  {
    std::lock_guard lk(impl_->stats_mu);
    s = impl_->stats;
  }
  s.in_flight_batches = impl_->in_flight.load();
  buffer::Stats q = impl_->queue.GetStats();
  uint64_t from = std::max(s.acked_seq, q.head_seq);
  s.pending_spans = q.next_seq > from ? q.next_seq - from : 0;
  if (s.pending_spans > 0) {
    if (auto r = impl_->queue.Read(from, 1, 1); r && !r->empty()) s.oldest_pending_ns = r->front().received_ns;
  }
  return s;
}

}  // namespace spanvault::upstream
