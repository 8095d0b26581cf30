// The forwarder, its sending side (contract and diagram: forwarder.h; state,
// units and threads: forwarder_impl.h): reading batches from the buffer,
// encoding them, sending them and acting on each outcome as the retry policy
// decides (retry, pause, split, dead-letter). Acks, Stop and the rest:
// forwarder_lifecycle.cc.
#include <boost/asio/post.hpp>

#include "buffer/dead_letters.h"
#include "common/log.h"
#include "common/util.h"
#include "upstream/forwarder_impl.h"

namespace spanvault::upstream {
namespace asio = boost::asio;

namespace {

constexpr size_t kResponseExcerpt = 4096;
// Finished batches waiting behind an unfinished one, at most (per slot).
constexpr size_t kTrackedPerSlot = 64;

int64_t NowMs() { return NowNanos() / 1000000; }

}  // namespace

void Forwarder::Impl::Pump() {
  if (stopping || reading) return;
  if (held_until != Clock::time_point{} && Clock::now() < held_until) return;
  const size_t slots = config.concurrency;
  if (unfinished >= slots || batches.size() >= slots * kTrackedPerSlot) return;
  const uint64_t next = queue.next_seq();
  if (next <= read_pos) return;
  {
    std::lock_guard lk(stats_mu);
    pending_times.SawUnread(read_pos, next, NowNanos());
  }
  const uint64_t available = next - read_pos;
  if (available < config.batch_max_spans && !linger_expired) {
    ArmLinger();
    return;
  }
  reading = true;
  ++busy;
  queue.ReadAsync(
      read_pos, config.batch_max_spans, config.batch_max_bytes,
      [self = shared_from_this(), next](Result<buffer::RecordBatch> records) {
        self->OnStrand([next, records = std::move(records)](Impl& me) mutable { me.OnRead(next, std::move(records)); });
      });
}

void Forwarder::Impl::OnRead(uint64_t next, Result<buffer::RecordBatch> records) {
  --busy;
  reading = false;
  if (stopping) {
    MaybeDrained();  // not sent: read again after the next start
    return;
  }
  if (!records) {
    NoteError("reading the buffer: " + records.error().message);
    return;  // the poll timer tries again
  }
  linger_expired = false;
  if (linger_armed) {
    linger_timer.cancel();
    linger_armed = false;
  }
  if (!records->empty() && chain && chain->DecisionWait().count() > 0 && !HoldYoung(*records)) {
    Pump();  // (held: returns at once)
    return;
  }
  if (records->empty()) {
    // Everything in [read_pos, next) was dropped by the buffer's bounds.
    batches[read_pos] = BatchState{next, 0, true};
    read_pos = next;
    {
      std::lock_guard lk(stats_mu);
      pending_times.OnReadPosition(read_pos);
    }
    AdvanceAcks();
  } else {
    const uint64_t first = read_pos;
    // A batch cut by HoldYoung ends where the held spans begin.
    const uint64_t end = held_from != 0 ? held_from : records->entries.back().seq + 1;
    held_from = 0;
    read_pos = end;
    {
      std::lock_guard lk(stats_mu);
      pending_times.OnRead(*records);
      pending_times.OnReadPosition(read_pos);
    }
    batches[first] = BatchState{end, 1, false};
    ++unfinished;
    in_flight = unfinished;
    auto batch = std::make_shared<const buffer::RecordBatch>(std::move(*records));
    if (chain) {
      Prepare(std::move(batch), [first](Impl& me, std::shared_ptr<const buffer::RecordBatch> kept,
                                        std::shared_ptr<const buffer::RecordBatch> original) {
        me.LaunchPrepared(first, std::move(kept), std::move(original));
      });
    } else {
      LaunchPrepared(first, std::move(batch), nullptr);
    }
  }
  Pump();
}

void Forwarder::Impl::ArmLinger() {
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

void Forwarder::Impl::SchedulePoll() {
  poll_timer.expires_after(options.poll_interval);
  poll_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stopping) return;
    self->Pump();
    self->SchedulePoll();
  });
}

std::string Forwarder::Impl::IdempotencyKey(const Unit& u) const {
  // A replay is sent again on purpose: a key of its own, so that a backend
  // that deduplicates by key does not drop it.
  std::string replay = u.replay ? "-replay" + std::to_string(u.replay->id) : std::string();
  return store_id + replay + "-" + std::to_string(u.seq(0)) + "-" + std::to_string(u.seq(u.size() - 1) + 1);
}

void Forwarder::Impl::Launch(const UnitPtr& unit) {
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

void Forwarder::Impl::Send(const UnitPtr& unit) {
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

void Forwarder::Impl::OnOutcome(const UnitPtr& unit, HttpOutcome outcome) {
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

void Forwarder::Impl::OnResult(const UnitPtr& unit, const AttemptResult& result, const std::string& what,
                               const std::string& body) {
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
      if (!unit->replay) {
        stats.delivered_spans += n;
        ++stats.delivered_batches;
      }
      stats.sent_bytes += unit->request ? unit->request->body.size() : 0;
    }
    if (unit->replay) unit->replay->delivered += n;
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
        if (unit->replay) {
          unit->replay->delivered -= std::min<uint64_t>(unit->replay->delivered, note->failed.size());
        } else {
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
  if (unit->replay && ReplayFailed(unit, d, what)) return;
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
      UnitPtr a = ChildUnit(unit, unit->begin, unit->begin + n / 2);
      UnitPtr b = ChildUnit(unit, unit->begin + n / 2, unit->end);
      FinishUnit(unit);  // its halves carry on
      Launch(a);
      Launch(b);
      return;
    }
    case Action::kDeadLetter: {
      buffer::DeadLetter dl;
      dl.upstream = config.name;
      dl.time_ns = NowNanos();
      dl.seq = unit->seq(0);
      dl.status = result.status;
      dl.reason = what + " for a single span";
      dl.response = body.substr(0, kResponseExcerpt);
      dl.span_json = std::string(unit->StoredJson(unit->begin));  // as stored: replayed, it is processed anew
      // Durable (on the buffer's worker thread) before the ack that covers it.
      ++busy;
      std::vector<buffer::DeadLetter> letters;
      letters.push_back(std::move(dl));
      queue.dead_letters().AddAsync(
          std::move(letters), [self = shared_from_this(), unit, status = result.status](Status st) {
            self->OnStrand([unit, status, st = std::move(st)](Impl& me) { me.OnDeadLettered(unit, status, st); });
          });
      return;
    }
  }
}

void Forwarder::Impl::OnDeadLettered(const UnitPtr& unit, int status, const Status& st) {
  --busy;
  if (stopping) {
    MaybeDrained();  // not acked: sent again after the next start
    return;
  }
  if (!st) {
    // Keep the span: try the whole exchange again later.
    ++unit->attempt;
    NoteError("dead-letter store: " + st.error().message);
    Retry(unit, Backoff(unit->attempt, config.retry, Random01()));
    return;
  }
  LOG_WARN("upstream refused a span for good: moved to the dead-letter store",
           {{"upstream", config.name}, {"seq", unit->seq(0)}, {"status", status}});
  {
    std::lock_guard lk(stats_mu);
    ++stats.dead_lettered;
  }
  FinishUnit(unit);
}

void Forwarder::Impl::FailSpans(const UnitPtr& unit, const std::vector<FailedSpan>& failed, int batch_status,
                                const std::string& body) {
  LOG_DEBUG("upstream took a batch but not some of its spans",
            {{"upstream", config.name}, {"spans", unit->size()}, {"failed", failed.size()}});
  for (const FailedSpan& f : failed) {
    if (f.index >= unit->size()) continue;
    UnitPtr one = ChildUnit(unit, unit->begin + f.index, unit->begin + f.index + 1);
    std::string what = "HTTP " + std::to_string(batch_status) + ", span status " + std::to_string(f.status);
    if (!f.message.empty()) what += ": " + f.message;
    OnResult(one, AttemptResult{f.status, {}}, what, f.message.empty() ? body : f.message);
  }
}

void Forwarder::Impl::Retry(const UnitPtr& unit, milliseconds delay) {
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

Forwarder::Impl::UnitPtr Forwarder::Impl::ChildUnit(const UnitPtr& parent, size_t begin, size_t end) {
  auto u = std::make_shared<Unit>();
  u->batch_first = parent->batch_first;
  u->batch = parent->batch;
  u->begin = begin;
  u->end = end;
  u->replay = parent->replay;
  u->original = parent->original;
  if (!u->replay) ++batches[parent->batch_first].units_left;
  return u;
}

void Forwarder::Impl::FinishUnit(const UnitPtr& unit) {
  if (unit->replay) {
    // Not in any batch of the cursor: dropping it is all (the job reports
    // once its last unit is gone).
    unit->batch.reset();
    unit->request.reset();
    unit->replay.reset();
    MaybeDrained();
    return;
  }
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

}  // namespace spanvault::upstream
