// The forwarder's replay (contract: Forwarder::Replay in forwarder.h; units
// and threads: forwarder_impl.h): stored spans sent once more through the
// same encoding, client and retry policy, outside the cursor's batches.
#include <boost/asio/post.hpp>

#include "common/log.h"
#include "upstream/forwarder_impl.h"

namespace spanvault::upstream {

namespace {
// The longest wait between two attempts of a replayed request: a replay is
// an operator waiting for an answer, not a backlog to drain.
constexpr std::chrono::milliseconds kReplayMaxDelay{10000};
}  // namespace

bool Forwarder::Impl::ReplayFailed(const UnitPtr& unit, const Decision& d, const std::string& what) {
  forwarder_internal::ReplayJob& job = *unit->replay;
  if (d.action == Action::kSplit) return false;  // the halves go on as replayed requests
  if (d.action == Action::kRetry && unit->attempt + 1 < kReplayAttempts) {
    ++unit->attempt;
    LogFailure(what, d.delay, unit->attempt, d.from_retry_after);
    Retry(unit, std::min(d.delay, kReplayMaxDelay));
    return true;
  }
  job.last_error =
      d.action == Action::kRetry ? what + " (gave up after " + std::to_string(kReplayAttempts) + " attempts)" : what;
  LOG_WARN("replayed spans not delivered",
           {{"upstream", config.name}, {"spans", unit->size()}, {"error", job.last_error}});
  FinishUnit(unit);
  return true;
}

void Forwarder::Impl::StartReplay(std::shared_ptr<forwarder_internal::ReplayJob> job,
                                  std::shared_ptr<const buffer::RecordBatch> batch) {
  if (stopping) {
    job->last_error = "the forwarder is stopping";
    return;  // the job reports when its last reference goes
  }
  const size_t max_spans = std::max<size_t>(1, config.batch_max_spans);
  size_t i = 0;
  while (i < batch->size()) {
    auto u = std::make_shared<Unit>();
    u->batch = batch;
    u->replay = job;
    u->begin = i;
    size_t bytes = 0;
    while (i < batch->size() && i - u->begin < max_spans &&
           (i == u->begin || bytes + batch->entries[i].length <= config.batch_max_bytes)) {
      bytes += batch->entries[i].length;
      ++i;
    }
    u->end = i;
    Launch(u);
  }
}

void Forwarder::Replay(buffer::RecordBatch batch, std::function<void(const ReplayResult&)> done) {
  auto job = std::make_shared<forwarder_internal::ReplayJob>();
  job->id = impl_->next_replay.fetch_add(1);
  job->spans = batch.size();
  job->done = std::move(done);
  auto shared = std::make_shared<const buffer::RecordBatch>(std::move(batch));
  impl_->OnStrand([job = std::move(job), shared = std::move(shared)](Impl& me) mutable {
    if (!me.chain) {
      me.StartReplay(std::move(job), std::move(shared));
      return;
    }
    // A replay goes through the upstream's processors too (nothing
    // unredacted leaves by replay); spans they drop are not counted in it.
    me.Prepare(std::move(shared), [job = std::move(job)](Impl& m, std::shared_ptr<const buffer::RecordBatch> kept,
                                                         std::shared_ptr<const buffer::RecordBatch>) {
      job->spans = kept->size();
      m.StartReplay(job, std::move(kept));
    });
  });
}

}  // namespace spanvault::upstream
