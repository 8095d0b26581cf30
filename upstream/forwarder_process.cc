// The forwarder's processing step (contract: "Processors" in forwarder.h):
// a batch read from the buffer goes through the upstream's processor chain
// before it is encoded. It runs on the io_context outside the strand, like
// encoding, and only reads the batch it was given.
#include <algorithm>
#include <boost/asio/post.hpp>

#include "common/log.h"
#include "common/util.h"
#include "upstream/forwarder_impl.h"

namespace spanvault::upstream {
namespace {

// The spans of `in` that `chain` keeps, as it changed them; seqs and receive
// times kept.
buffer::RecordBatch Process(const process::Chain& chain, const buffer::RecordBatch& in) {
  buffer::RecordBatch out;
  out.entries.reserve(in.size());
  out.data.reserve(in.data.size());
  std::string changed;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string_view span = in.json(i);
    process::Verdict v = chain.Apply(span, changed);
    if (v == process::Verdict::kDrop) continue;
    std::string_view keep = v == process::Verdict::kChanged ? std::string_view(changed) : span;
    buffer::RecordBatch::Entry e = in.entries[i];
    e.offset = static_cast<uint32_t>(out.data.size());
    e.length = static_cast<uint32_t>(keep.size());
    out.data.append(keep);
    out.entries.push_back(e);
  }
  return out;
}

}  // namespace

bool Forwarder::Impl::HoldYoung(buffer::RecordBatch& records) {
  const int64_t wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(chain->DecisionWait()).count();
  const int64_t now = NowNanos();
  size_t old = 0;
  while (old < records.size() && records.entries[old].received_ns <= now - wait_ns) ++old;
  if (old == records.size()) return true;
  // Read again once the first young span is old enough (a millisecond late,
  // so that it is).
  // Clamped to the wait: receive times are wall-clock, and a clock set back
  // must not hold the upstream longer.
  const int64_t left_ns = std::clamp<int64_t>(records.entries[old].received_ns + wait_ns - now, 0, wait_ns);
  held_until = Clock::now() + std::chrono::nanoseconds(left_ns) + std::chrono::milliseconds(1);
  hold_timer.expires_at(held_until);
  hold_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    self->held_until = {};
    self->Pump();
  });
  if (old == 0) return false;
  held_from = records.entries[old].seq;
  records.entries.resize(old);  // their bytes stay in `data`, unread
  return true;
}

void Forwarder::Impl::Prepare(std::shared_ptr<const buffer::RecordBatch> batch, Prepared then) {
  ++busy;
  boost::asio::post(ioc, [self = shared_from_this(), batch = std::move(batch), then = std::move(then)]() mutable {
    // Keep conditions first, over every span read: a trace whose spans are
    // in this batch gets one decision even if its ingest marks are gone (a
    // restart).
    for (size_t i = 0; i < batch->size(); ++i) self->chain->Observe(batch->json(i));
    auto kept = std::make_shared<const buffer::RecordBatch>(Process(*self->chain, *batch));
    self->OnStrand([kept = std::move(kept), batch = std::move(batch), then = std::move(then)](Impl& me) mutable {
      --me.busy;
      if (me.stopping) {
        me.MaybeDrained();  // not sent: read again after the next start
        return;
      }
      then(me, std::move(kept), std::move(batch));
    });
  });
}

void Forwarder::Impl::LaunchPrepared(uint64_t first, std::shared_ptr<const buffer::RecordBatch> batch,
                                     std::shared_ptr<const buffer::RecordBatch> original) {
  auto unit = std::make_shared<Unit>();
  unit->batch_first = first;
  unit->end = batch->size();
  unit->batch = std::move(batch);
  unit->original = std::move(original);
  if (unit->size() == 0) {
    FinishUnit(unit);  // every span dropped by a processor: the batch is done
    return;
  }
  Launch(unit);
}

}  // namespace spanvault::upstream
