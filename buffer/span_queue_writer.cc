// The writer thread of SpanQueue (contract: span_queue.h; locks:
// span_queue_impl.h): Append, the group commit and the bounds (max_disk_bytes,
// max_age, on_full). The store's health (failed writes, a full disk) and the
// store thread (periodic WAL syncs, table-file drops) are in
// span_queue_store.cc; both threads are started here.
//
// The writer's loop: take the queued requests (up to max_group_bytes in
// process mode), plan the group under the state lock (which seqs it gets,
// what max_disk_bytes and the quarantine bounds delete), build one WriteBatch
// of spans for the spans database and one for the main database (quarantine
// entries, the head moves that make room), write them, spans first
// (store_format.h; synced when durability is machine or any request asked),
// apply the plan to the in-memory index, then run every `done` in order with
// no lock held. Between groups: max_age drops about every second.
//
// Back-pressure (Append side): a caller blocks while the queued bytes exceed
// max_pending_bytes, except on the writer thread (a callback that appends
// must not wait for the thread it runs on) and once Close() has started.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <rocksdb/convenience.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>

#include "buffer/span_queue_impl.h"
#include "buffer/store_format.h"
#include "common/log.h"
#include "common/util.h"

namespace spanvault::buffer {
namespace {

using internal::DecodeSeq;
using internal::DecodeSpanValue;
using internal::EncodeSpanValue;
using internal::Extent;
using internal::kQuarantineHeadKey;
using internal::kSpanOverhead;
using internal::QuarantineJson;
using internal::SeqKey;
using internal::SpanIndex;

constexpr auto kDropLogInterval = std::chrono::seconds(10);

// Bytes Append() charges against max_pending_bytes.
uint64_t PendingBytes(const span::Batch& b) {
  uint64_t n = b.data.size() + b.spans.size() * kSpanOverhead;
  for (const auto& q : b.quarantine) n += 128 + q.rejection.reason.size() + q.rejection.excerpt.size();
  return n;
}

StoreResult Failed(std::string error) {
  StoreResult r;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

void RunDone(const std::function<void(const StoreResult&)>& done, const StoreResult& r) {
  if (!done) return;
  try {
    done(r);
  } catch (const std::exception& e) {
    LOG_ERROR("span queue: append callback threw", {{"error", e.what()}});
  } catch (...) {
    LOG_ERROR("span queue: append callback threw");
  }
}

}  // namespace

Status SpanQueue::Impl::StartWriter() {
  try {
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "sv-writer");  // visible in top -H, perf, gdb
      {
        std::lock_guard lk(queue_mu_);
        writer_id_ = std::this_thread::get_id();
      }
      WriterLoop();
    });
    store_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "sv-store");
      StoreLoop();
    });
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("span queue: cannot start the writer threads: ") + e.what()));
  }
  return {};
}

void SpanQueue::Impl::Append(span::Batch batch, bool fsync, std::function<void(const StoreResult&)> done) {
  if (read_only_) {
    RunDone(done, Failed("span store is open read-only"));
    return;
  }
  const uint64_t bytes = PendingBytes(batch);
  std::unique_lock lk(queue_mu_);
  if (std::this_thread::get_id() != writer_id_) {
    space_cv_.wait(
        lk, [&] { return closing_ || pending_bytes_ == 0 || pending_bytes_ + bytes <= options_.max_pending_bytes; });
  }
  if (closing_) {
    lk.unlock();
    RunDone(done, Failed("span queue is closed"));
    return;
  }
  queue_.push_back({std::move(batch), fsync, std::move(done)});
  pending_bytes_ += bytes;
  lk.unlock();
  queue_cv_.notify_one();
}

void SpanQueue::Impl::WriterLoop() {
  using std::chrono::milliseconds;
  const milliseconds shortest =
      options_.retention.count() > 0 ? std::min(options_.max_age, options_.retention) : options_.max_age;
  const auto age_interval = std::clamp<milliseconds>(shortest / 4, milliseconds(10), milliseconds(1000));
  std::vector<Request> group;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lk(queue_mu_);
      queue_cv_.wait_until(lk, next_age_check_, [&] { return !queue_.empty() || closing_ || damaged_; });
      // Whole requests up to max_group_bytes, in order; the rest wait for the
      // next group (the wait above returns at once while any are queued). In
      // machine mode every group costs an fsync: it takes all that is queued.
      const uint64_t cap = options_.durability == Durability::kMachine ? UINT64_MAX : options_.max_group_bytes;
      uint64_t taken = 0;
      while (!queue_.empty() && (group.empty() || taken < cap)) {
        const uint64_t bytes = PendingBytes(queue_.front().batch);
        taken += bytes;
        pending_bytes_ -= std::min(pending_bytes_, bytes);
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (queue_.empty()) pending_bytes_ = 0;
      stop = closing_ && group.empty();
    }
    space_cv_.notify_all();
    ReplaceIfDamaged();
    RepairIfFailed();
    try {
      if (!store_failed_ && acks_unpersisted_) PersistPendingAcks();
      UpdateDiskBudget(/*force=*/false);
    } catch (const std::exception& e) {
      LOG_ERROR("span queue: disk budget update failed", {{"error", e.what()}});
    }
    if (!group.empty()) CommitGroup(group);
    group.clear();
    if (stop) break;
    try {
      if (Clock::now() >= next_age_check_) {
        next_age_check_ = Clock::now() + age_interval;
        CheckAge();
        CheckRetention();
      }
      NoteDropped({}, 0, 0);  // a warning held back by the rate limit
      TrimIfIdle();
    } catch (const std::exception& e) {
      LOG_ERROR("span queue: housekeeping failed", {{"error", e.what()}});
    }
  }
}

// After a burst of ingest the memtables hold up to ~100 MiB of spans and the
// allocator keeps the freed batch buffers mapped; a sidecar that then drains
// a backlog for an hour should not sit on that memory. Once intake has been
// idle for a second after at least 32 MiB went through: flush the memtables
// to SST files (the spans stay on disk) and hand free pages back to the
// kernel (malloc_trim is process-wide; it takes a few ms on this thread).
void SpanQueue::Impl::TrimIfIdle() {
  if (appended_since_trim_ < (32u << 20) || Clock::now() - last_commit_ < std::chrono::seconds(1)) return;
  appended_since_trim_ = 0;
  {
    std::shared_lock db_lock(db_mu_);
    if (db_ && !store_failed_) {
      rocksdb::FlushOptions fo;
      fo.wait = true;
      fo.allow_write_stall = true;
      rocksdb::Status s = spans_db_->Flush(fo, spans_cf_);
      if (!s.ok()) LOG_WARN("span store: idle flush failed", {{"error", s.ToString()}});
    }
  }
  group_batch_ = rocksdb::WriteBatch();
  group_batch_reserved_ = 0;
  ::malloc_trim(0);
}

void SpanQueue::Impl::CommitGroup(std::vector<Request>& group) {
  std::vector<StoreResult> results(group.size());
  try {
    CommitGroupLocked(group, results);
  } catch (const std::exception& e) {
    // Only allocation failure gets here, before the write.
    LOG_ERROR("span queue: group commit failed", {{"error", e.what()}});
    for (auto& r : results) r = Failed(std::string("span queue: ") + e.what());
  }
  uint64_t stored = 0;
  for (const auto& r : results) stored += r.ok ? r.stored : 0;
  for (const auto& req : group) appended_since_trim_ += req.batch.data.size();
  last_commit_ = Clock::now();
  if (stored > 0 && options_.on_commit) options_.on_commit();
  if (TraceIndex* t = traces_ptr_.load(); stored > 0 && t != nullptr) t->Notify();
  for (size_t i = 0; i < group.size(); ++i) RunDone(group[i].done, results[i]);
}

rocksdb::WriteBatch& SpanQueue::Impl::GroupBatch(uint64_t span_bytes, const std::vector<uint64_t>& q_bytes) {
  // Per record: tag, column family id and two length varints beyond the key,
  // the value header and the span; then the head and quarantine deletes.
  size_t need = span_bytes + span_bytes / 64 + 4096;
  for (uint64_t b : q_bytes) need += b + 16;
  // Grow to the largest group seen; TrimIfIdle gives it back once intake
  // pauses. Shrinking while busy made it regrow from fresh pages: at full
  // ingest the page faults were a tenth of the writer thread.
  if (need > group_batch_reserved_) {
    group_batch_reserved_ = need + need / 4;
    group_batch_ = rocksdb::WriteBatch(group_batch_reserved_);
  } else {
    group_batch_.Clear();
  }
  return group_batch_;
}

void SpanQueue::Impl::CommitGroupLocked(std::vector<Request>& group, std::vector<StoreResult>& results) {
  const size_t n = group.size();
  // max_disk_bytes, or less when the filesystem cannot hold that much.
  const uint64_t max_bytes = effective_max_bytes_.load();
  // What needs no lock first: sizes and quarantine JSON.
  bool sync = options_.durability == Durability::kMachine;
  std::vector<uint64_t> span_bytes(n, 0);
  std::vector<std::string> q_json;
  std::vector<uint64_t> q_bytes;
  uint64_t total_in = 0;
  for (size_t i = 0; i < n; ++i) {
    const span::Batch& b = group[i].batch;
    for (const auto& s : b.spans) span_bytes[i] += kSpanOverhead + s.length;
    total_in += span_bytes[i];
    for (const auto& q : b.quarantine) {
      q_json.push_back(QuarantineJson(q, b.received_ns));
      q_bytes.push_back(8 + q_json.back().size());
    }
    sync = sync || group[i].fsync;
  }

  std::unique_lock write_lock(write_mu_);
  // The plan. on_full = reject refuses whole requests that do not fit (a
  // later, smaller one may still fit). Drop mode deletes whole extents from
  // the head; a group larger than the whole bound also loses its own oldest
  // spans (they get no seq).
  std::vector<bool> accepted(n, true);
  std::vector<size_t> skip(n, 0);
  uint64_t skipped_spans = 0, skipped_bytes = 0;
  uint64_t head, next, new_head;
  Quarantine::Plan q_plan;
  {
    std::lock_guard lk(state_mu_);
    head = index_.head_seq();
    next = index_.next_seq();
    new_head = head;
    if (options_.on_full == OnFull::kReject) {
      // Delivered spans kept by local retention make room first: reject
      // mode refuses new spans only for want of room for undelivered ones.
      if (retention_on()) {
        new_head = std::max(head, std::min(index_.HeadToFit(total_in, max_bytes), DeliveredLocked()));
      }
      uint64_t running = index_.bytes() - index_.Below(new_head).bytes;
      for (size_t i = 0; i < n; ++i) {
        if (running + span_bytes[i] <= max_bytes) {
          running += span_bytes[i];
        } else {
          accepted[i] = false;
        }
      }
    } else if (total_in > max_bytes) {
      new_head = next;
      uint64_t excess = total_in - max_bytes;
      for (size_t i = 0; i < n && excess > 0; ++i) {
        const auto& spans = group[i].batch.spans;
        while (skip[i] < spans.size() && excess > 0) {
          uint64_t sb = kSpanOverhead + spans[skip[i]].length;
          excess -= std::min(excess, sb);
          ++skip[i];
          ++skipped_spans;
          skipped_bytes += sb;
        }
      }
    } else {
      new_head = index_.HeadToFit(total_in, max_bytes);
    }
    q_plan = quarantine_.PlanLocked(q_bytes);
  }

  rocksdb::WriteBatch& wb = GroupBatch(total_in, q_bytes);
  uint64_t seq = next;
  uint64_t refused = 0;
  std::string value;
  for (size_t i = 0; i < n; ++i) {
    const span::Batch& b = group[i].batch;
    if (!accepted[i]) {
      results[i].refused_full = static_cast<uint32_t>(b.spans.size());
      refused += b.spans.size();
      continue;
    }
    // The value is the batch's header followed by the span: put as two
    // parts, so the span is copied once, into the WriteBatch.
    EncodeSpanValue(b.received_ns, {}, value);
    for (size_t s = skip[i]; s < b.spans.size(); ++s) {
      if (results[i].stored == 0) results[i].first_seq = seq;
      std::string key = SeqKey(seq++);
      std::string_view span = b.SpanAt(s);
      rocksdb::Slice key_slice(key);
      rocksdb::Slice parts[2] = {rocksdb::Slice(value), rocksdb::Slice(span.data(), span.size())};
      wb.Put(spans_cf_, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(parts, 2));
      ++results[i].stored;
    }
  }
  // The head and the quarantine are in the main database: a second write,
  // after the spans' (store_format.h).
  rocksdb::WriteBatch meta_wb;
  AddHeadDelete(meta_wb, head, new_head);
  for (size_t k = q_plan.bounds.drop_new; k < q_json.size(); ++k) {
    meta_wb.Put(quarantine_cf_, SeqKey(q_plan.first_id + k), q_json[k]);
  }
  if (q_plan.bounds.drop_old + q_plan.bounds.drop_new > 0 && q_plan.bounds.delete_below > q_plan.front) {
    meta_wb.DeleteRange(quarantine_cf_, SeqKey(q_plan.front), SeqKey(q_plan.bounds.delete_below));
    meta_wb.Put(meta_cf_, kQuarantineHeadKey, SeqKey(q_plan.bounds.delete_below));
  }

  const bool wrote = wb.Count() > 0 || meta_wb.Count() > 0;
  rocksdb::Status s = RecoverIfFailed();
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (s.ok() && wb.Count() > 0) s = spans_db_->Write(wo, &wb);
  if (s.ok() && meta_wb.Count() > 0) s = db_->Write(wo, &meta_wb);
  if (s.ok() && sync && !wrote) {
    // A barrier alone: nothing to write, but what came before must be on disk.
    s = spans_db_->SyncWAL();
    if (s.ok()) s = db_->SyncWAL();
  }
  SpanIndex::Removed removed;
  {
    std::lock_guard lk(state_mu_);
    if (wrote) ++counters_.write_batches;
    if (!s.ok()) {
      ++counters_.write_errors;
    } else {
      if (sync) ++counters_.fsyncs;
      RaiseSpanFloor(new_head);
      removed = index_.TrimBelow(new_head);
      seq = next;
      for (size_t i = 0; i < n; ++i) {
        if (!accepted[i]) continue;
        const span::Batch& b = group[i].batch;
        for (size_t j = skip[i]; j < b.spans.size(); ++j) {
          index_.Add(seq++, kSpanOverhead + b.spans[j].length, b.received_ns);
        }
      }
      quarantine_.ApplyLocked(q_plan, q_bytes);
      counters_.refused_full += refused;
      counters_.dropped_spans += removed.spans + skipped_spans;
      counters_.dropped_bytes += removed.bytes + skipped_bytes;
    }
  }
  // After a synced write the store thread's next sync may find nothing new;
  // wal_dirty_ stays as it was (a sync has no cost when nothing changed).
  if (s.ok() && wrote && !sync) wal_dirty_ = true;
  write_lock.unlock();

  if (!s.ok()) {
    NoteStoreError("write", s);
    for (auto& r : results) r = Failed("span store write failed: " + s.ToString());
    return;
  }
  NoteDropped("max_disk_bytes", removed.spans + skipped_spans, removed.bytes + skipped_bytes);
  if (removed.bytes > 0) ReclaimBelow(new_head, removed.bytes);
}

void SpanQueue::Impl::CheckAge() {
  if (store_failed_ || !db_) return;  // nothing to drop on a store being repaired
  const int64_t cutoff = NowNanos() - std::chrono::duration_cast<std::chrono::nanoseconds>(options_.max_age).count();
  std::unique_lock write_lock(write_mu_);
  SpanIndex::AgePlan plan;
  uint64_t head;
  {
    std::lock_guard lk(state_mu_);
    plan = index_.PlanAge(cutoff);
    head = index_.head_seq();
  }
  uint64_t new_head = plan.head;
  std::optional<uint64_t> cut_bytes;
  std::optional<int64_t> rest_oldest;
  if (plan.straddling) {
    // Extents only summarise receive times: scan this one for the exact cut.
    // Only a prefix goes (the queue has no holes), so a newer span ends it.
    const Extent& e = *plan.straddling;
    internal::SeqRangeIterator it(spans_db_.get(), spans_cf_, e.first_seq, e.first_seq + e.count);
    uint64_t cut = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      int64_t received_ns = 0;
      DecodeSpanValue(it->value(), &received_ns, nullptr);
      auto seq = DecodeSeq(it->key());
      if (!rest_oldest && received_ns < cutoff && seq) {
        new_head = *seq + 1;
        cut += it->key().size() + it->value().size();
      } else {
        rest_oldest = std::min(rest_oldest.value_or(received_ns), received_ns);
      }
    }
    if (!it->status().ok()) {
      LOG_ERROR("span store: max_age scan failed", {{"error", it->status().ToString()}});
      return;
    }
    if (new_head > e.first_seq) cut_bytes = cut;
  }
  if (new_head > head) {
    rocksdb::WriteBatch wb;
    AddHeadDelete(wb, head, new_head);
    rocksdb::Status s = RecoverIfFailed();
    if (s.ok()) s = db_->Write(rocksdb::WriteOptions(), &wb);
    if (!s.ok()) {
      {
        std::lock_guard lk(state_mu_);
        ++counters_.write_errors;
      }
      write_lock.unlock();
      NoteStoreError("max_age delete", s);
      return;
    }
    wal_dirty_ = true;
    RaiseSpanFloor(new_head);
  }
  SpanIndex::Removed removed;
  {
    std::lock_guard lk(state_mu_);
    removed = index_.TrimBelow(new_head, cut_bytes);
    if (rest_oldest) index_.SetFrontOldest(*rest_oldest);
    counters_.dropped_spans += removed.spans;
    counters_.dropped_bytes += removed.bytes;
  }
  write_lock.unlock();
  NoteDropped("max_age", removed.spans, removed.bytes);
  if (removed.bytes > 0) ReclaimBelow(new_head, removed.bytes);
}

// Drops are never silent, but a store at its bound drops on every commit:
// one warning per kDropLogInterval, with what was dropped since the last one
// and the totals. spans == 0 only flushes a warning the rate limit held back.
void SpanQueue::Impl::NoteDropped(std::string_view reason, uint64_t spans, uint64_t bytes) {
  if (spans > 0) {
    unlogged_drop_spans_ += spans;
    unlogged_drop_bytes_ += bytes;
    if (unlogged_drop_reasons_.find(reason) == std::string::npos) {
      if (!unlogged_drop_reasons_.empty()) unlogged_drop_reasons_ += ",";
      unlogged_drop_reasons_ += reason;
    }
  }
  auto now = Clock::now();
  if (unlogged_drop_spans_ == 0 || now - last_drop_log_ < kDropLogInterval) return;
  Stats st = GetStats();
  LOG_WARN("span buffer dropped the oldest spans", {{"reason", unlogged_drop_reasons_},
                                                    {"spans", unlogged_drop_spans_},
                                                    {"bytes", unlogged_drop_bytes_},
                                                    {"dropped_spans_total", st.dropped_spans},
                                                    {"dropped_bytes_total", st.dropped_bytes},
                                                    {"max_disk_bytes", options_.max_disk_bytes},
                                                    {"max_age_ms", options_.max_age.count()}});
  last_drop_log_ = now;
  unlogged_drop_spans_ = unlogged_drop_bytes_ = 0;
  unlogged_drop_reasons_.clear();
}

}  // namespace spanvault::buffer
