// The threads of SpanQueue: the writer (group commit, the bounds) and the
// store thread (periodic WAL syncs, dropping table files below the head).
//
// The writer's loop: take the queued requests (up to max_group_bytes in
// process mode), plan the group under the state lock (which seqs it gets,
// what max_disk_bytes and the quarantine bounds delete), build ONE WriteBatch
// (spans, quarantine entries, and the head moves that make room), write it
// once (sync when durability is machine or any request asked for fsync),
// apply the plan to the in-memory index, then run every `done` in order with
// no lock held. Between groups: max_age drops about every second.
//
// The store thread does what would otherwise stall ingest behind the disk:
// in process mode an fdatasync of the WAL every fsync_interval (40-100 ms
// each at full ingest on the benchmark VM), and the table-file drops at the
// bound (an unlink on a discard-mounted disk waits for the discard).
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
using internal::QuarantineIndex;
using internal::QuarantineJson;
using internal::SeqKey;
using internal::SpanIndex;

constexpr auto kDropLogInterval = std::chrono::seconds(10);
// How often the bound is re-evaluated from the filesystem (statvfs).
constexpr auto kBudgetInterval = std::chrono::seconds(1);

// Bytes Append() charges against max_pending_bytes.
uint64_t PendingBytes(const span::Batch& b) {
  uint64_t n = b.data.size() + b.spans.size() * kSpanOverhead;
  for (const auto& q : b.quarantine) n += 128 + q.rejection.reason.size() + q.rejection.excerpt.size();
  return n;
}

// RocksDB's WAL files: decimal digits, then ".log" ("LOG" is its info log).
bool IsWalFileName(std::string_view name) {
  constexpr std::string_view kExt = ".log";
  if (name.size() <= kExt.size() || name.substr(name.size() - kExt.size()) != kExt) return false;
  std::string_view stem = name.substr(0, name.size() - kExt.size());
  return std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// fdatasync (fsync for a directory) of `path` through a descriptor of our
// own; an empty string when done or when the file is gone, else the error.
std::string SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return errno == ENOENT ? std::string() : "open " + path + ": " + std::strerror(errno);
  int rc = directory ? ::fsync(fd) : ::fdatasync(fd);
  std::string error =
      rc == 0 ? std::string() : (directory ? "fsync " : "fdatasync ") + path + ": " + std::strerror(errno);
  ::close(fd);
  return error;
}

AppendResult Failed(std::string error) {
  AppendResult r;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

void RunDone(const std::function<void(const AppendResult&)>& done, const AppendResult& r) {
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

void SpanQueue::Impl::Append(span::Batch batch, bool fsync, std::function<void(const AppendResult&)> done) {
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
  const auto age_interval = std::clamp<milliseconds>(options_.max_age / 4, milliseconds(10), milliseconds(1000));
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
  std::vector<AppendResult> results(group.size());
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

void SpanQueue::Impl::CommitGroupLocked(std::vector<Request>& group, std::vector<AppendResult>& results) {
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
  uint64_t head, next, new_head, first_q_id, q_front;
  QuarantineIndex::Plan q_plan;
  {
    std::lock_guard lk(state_mu_);
    head = index_.head_seq();
    next = index_.next_seq();
    new_head = head;
    if (options_.on_full == OnFull::kReject) {
      uint64_t running = index_.bytes();
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
    first_q_id = next_quarantine_id_;
    q_front = quarantine_.front_id().value_or(first_q_id);
    q_plan = quarantine_.PlanAdd(first_q_id, q_bytes, options_.quarantine_max_entries, options_.quarantine_max_bytes);
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
  for (size_t k = q_plan.drop_new; k < q_json.size(); ++k) {
    meta_wb.Put(quarantine_cf_, SeqKey(first_q_id + k), q_json[k]);
  }
  if (q_plan.drop_old + q_plan.drop_new > 0 && q_plan.delete_below > q_front) {
    meta_wb.DeleteRange(quarantine_cf_, SeqKey(q_front), SeqKey(q_plan.delete_below));
    meta_wb.Put(meta_cf_, kQuarantineHeadKey, SeqKey(q_plan.delete_below));
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
      quarantine_.Apply(q_plan, first_q_id, q_bytes);
      next_quarantine_id_ = first_q_id + q_bytes.size();
      counters_.quarantined_total += q_bytes.size();
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

rocksdb::Status SpanQueue::Impl::RecoverIfFailed() {
  if (!store_failed_ && db_) return rocksdb::Status::OK();
  // Fail fast until RepairIfFailed() has brought the store back: no RocksDB
  // call on a store in its error state (Debian's RocksDB is built with
  // assertions, and syncing a WAL whose last append failed aborts).
  return rocksdb::Status::IOError("span store unavailable after a write error (retrying every second)",
                                  last_store_error_);
}

void SpanQueue::Impl::RepairIfFailed() {
  if (!store_failed_ && db_) return;
  auto now = Clock::now();
  if (now - last_repair_ < std::chrono::seconds(1)) return;
  last_repair_ = now;
  // Close and reopen, never Resume(): Resume() cannot clear a failed WAL
  // append, and after an ENOSPC one it even succeeds, and the next write
  // to that WAL aborts Debian's RocksDB (built with assertions). Recovery
  // replays the WAL up to its last whole record, and Recover() rebuilds the
  // index; a probe write then tells whether the fault is gone.
  // Lock order as everywhere: db_mu_, then write_mu_ (then state_mu_).
  rocksdb::Status s;
  {
    std::unique_lock db_lock(db_mu_);
    std::lock_guard write_lock(write_mu_);
    // Acks taken in memory while failed (Ack) are newer than the store's.
    std::map<std::string, uint64_t, std::less<>> cursors;
    {
      std::lock_guard lk(state_mu_);
      cursors = cursors_;
    }
    CloseDb();
    s = OpenDb();
    if (internal::IsNoSpace(s) && reserve_held_ > 0) {
      ReleaseReserve("cannot reopen the span store: " + s.ToString());
      s = OpenDb();
    }
    // Damage (in a table file a compaction or the reopen read): the writer
    // moves the damaged part aside next (ReplaceIfDamaged).
    if (s.IsCorruption()) NoteDamage("reopening the store: " + s.ToString());
    if (s.ok()) {
      if (Status r = Recover(); r) {
        std::lock_guard lk(state_mu_);
        bool newer = false;
        for (auto& [name, pos] : cursors_) {
          auto it = cursors.find(name);
          if (it != cursors.end() && it->second > pos) {
            pos = std::min(it->second, index_.next_seq());
            newer = true;
          }
        }
        if (newer) {
          uint64_t head = std::min(MinCursorLocked({}), index_.next_seq());
          if (head > index_.head_seq()) index_.TrimBelow(head);
          acks_unpersisted_ = true;  // PersistPendingAcks, next
        }
      } else {
        if (r.error().code == Error::Code::kCorruption) NoteDamage(r.error().message);
        s = rocksdb::Status::IOError(r.error().message);
        CloseDb();
      }
    }
  }
  if (s.ok()) s = ProbeWrites();
  if (s.ok()) {
    NoteStoreRecovered("reopened");
    return;
  }
  NoteStoreError("reopening the store", s);
}

// ---------------------------------------------------------------- a full disk
//
// docs/durability.md, "A full disk". Three parts:
//  - the bound follows the filesystem: UpdateDiskBudget (once a second)
//    lowers max_disk_bytes to what the filesystem can hold for the buffer,
//    so on_full applies before the kernel says ENOSPC;
//  - a reserve file (dir/RESERVE) keeps room for RocksDB to open, replay its
//    WAL, resume and compact: released when the disk is full, made again
//    when there is room;
//  - a failed write is a state (NoteStoreError / NoteStoreRecovered): logged
//    when it starts, at most every 30 s while it lasts, and when it ends;
//    acks go on in memory meanwhile (PersistPendingAcks writes them after).

void SpanQueue::Impl::NoteStoreError(std::string_view what, const rocksdb::Status& s) {
  const std::string error = s.ToString();
  const std::string key = "store failure " + std::to_string(failure_episode_);
  if (!store_failed_) {
    store_failed_ = true;
    failed_since_ = Clock::now();
    ++failure_episode_;
    last_store_error_ = error;
    failure_log_.Tick("store failure " + std::to_string(failure_episode_));  // the first line is this one
    {
      std::lock_guard lk(state_mu_);
      counters_.store_ok = false;
      counters_.store_error = error;
      counters_.store_failed_since_ns = NowNanos();
      ++counters_.store_failures;
    }
    LOG_ERROR("span store failed: new spans are refused until it is writable again (retried every second)",
              {{"during", what}, {"error", error}});
    if (internal::IsNoSpace(s)) ReleaseReserve("the filesystem is full");
    return;
  }
  if (uint64_t n = failure_log_.Tick(key)) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - failed_since_).count();
    LOG_WARN("span store still failing", {{"error", last_store_error_},
                                          {"latest", error},
                                          {"during", what},
                                          {"failed_for_seconds", secs},
                                          {"failures", n}});
  }
}

void SpanQueue::Impl::NoteStoreRecovered(std::string_view how) {
  store_failed_ = false;
  const double secs = std::chrono::duration<double>(Clock::now() - failed_since_).count();
  uint64_t head;
  {
    std::lock_guard lk(state_mu_);
    counters_.store_ok = true;
    counters_.store_error.clear();
    counters_.store_failed_since_ns = 0;
    head = index_.head_seq();
  }
  LOG_INFO("span store writable again",
           {{"after_seconds", std::round(secs * 10) / 10}, {"how", how}, {"error_was", last_store_error_}});
  last_store_error_.clear();
  next_budget_check_ = {};  // re-evaluate now
  // Give back what was delivered meanwhile without waiting for 64 MiB more.
  {
    std::lock_guard lk(bg_mu_);
    reclaim_head_ = std::max(reclaim_head_, head);
  }
  bg_cv_.notify_one();
}

rocksdb::Status SpanQueue::Impl::ProbeWrites() {
  // A WAL record with no key in the spans database, and the cursors and
  // head (what acks kept in memory meanwhile) in the main one.
  rocksdb::WriteBatch probe;
  probe.PutLogData("spanvault: store writable?");
  rocksdb::Status s = spans_db_->Write(rocksdb::WriteOptions(), &probe);
  if (s.ok()) s = WriteCursors();
  return s;
}

void SpanQueue::Impl::PersistPendingAcks() {
  if (rocksdb::Status s = WriteCursors(); !s.ok()) NoteStoreError("persisting acks", s);
}

rocksdb::Status SpanQueue::Impl::WriteCursors() {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return rocksdb::Status::IOError("span store is closed");
  std::unique_lock write_lock(write_mu_);
  rocksdb::WriteBatch wb;
  uint64_t head;
  {
    std::lock_guard lk(state_mu_);
    for (const auto& [name, pos] : cursors_) wb.Put(meta_cf_, internal::CursorKey(name), SeqKey(pos));
    head = index_.head_seq();
  }
  wb.Put(meta_cf_, internal::kHeadKey, SeqKey(head));
  acks_unpersisted_ = false;  // an Ack from now on writes, or sets it again
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) {
    acks_unpersisted_ = true;
    std::lock_guard lk(state_mu_);
    ++counters_.write_errors;
    return s;
  }
  wal_dirty_ = true;
  RaiseSpanFloor(head);
  return s;
}

SpanQueue::Impl::FsSpace SpanQueue::Impl::StatFs() const {
  FsSpace out;
  std::filesystem::path p = options_.dir;
  std::error_code ec;
  // Before Open creates it, the nearest existing ancestor's filesystem.
  while (!p.empty() && !std::filesystem::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) {
    p = p.parent_path();
  }
  struct statvfs v {};
  if (p.empty() || ::statvfs(p.c_str(), &v) != 0) return out;
  out.total = static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
  out.free = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  out.ok = true;
  return out;
}

void SpanQueue::Impl::UpdateDiskBudget(bool force) {
  const auto now = Clock::now();
  if (!force && now < next_budget_check_) return;
  next_budget_check_ = now + kBudgetInterval;
  FsSpace fs = StatFs();
  if (fs.ok && !store_failed_ && reserve_held_ < reserve_target_) {
    EnsureReserve(fs);
    fs = StatFs();
  }
  uint64_t bound = options_.max_disk_bytes;
  const char* why = "max_disk_bytes";
  std::lock_guard lk(state_mu_);
  if (fs.ok) {
    // What the filesystem can hold for the buffer: what it holds now plus
    // the free space, less the reserve (when not held in its file) and
    // RocksDB's flush headroom. A logical byte written costs up to twice
    // that on disk until its memtable is flushed (WAL + table file), and
    // table files add a little: only half of the spare room counts. The
    // free space already shows what the store really takes (WAL, table
    // files, delivered spans not compacted away yet), so the estimate
    // corrects itself every second. Never below what is buffered: a full
    // filesystem refuses (reject) or replaces (drop_oldest) spans, it does
    // not drop what is there on its own.
    const int64_t spare = static_cast<int64_t>(fs.free + reserve_held_) - static_cast<int64_t>(reserve_target_) -
                          static_cast<int64_t>(flush_headroom_);
    const uint64_t fs_bound = index_.bytes() + static_cast<uint64_t>(std::max<int64_t>(spare, 0)) / 2;
    if (fs_bound < bound) {
      bound = fs_bound;
      why = "filesystem";
    }
  }
  const bool changed = counters_.bound != why;
  effective_max_bytes_ = bound;
  // Give back space at least every 1/8 of the bound (between 1 and 64 MiB).
  reclaim_bytes_ = std::clamp<uint64_t>(bound / 8, 1ull << 20, 64ull << 20);
  counters_.effective_max_bytes = bound;
  counters_.bound = why;
  counters_.disk_free_bytes = fs.free;
  counters_.disk_reserve_bytes = reserve_held_;
  if (changed) {
    LOG_INFO(
        std::string(why) == "filesystem"
            ? "span buffer bound: the filesystem holds less than max_disk_bytes; on_full applies at the lower bound"
            : "span buffer bound: max_disk_bytes again",
        {{"effective_max_bytes", bound},
         {"max_disk_bytes", options_.max_disk_bytes},
         {"buffered_bytes", index_.bytes()},
         {"disk_free_bytes", fs.free},
         {"disk_reserve_bytes", reserve_held_}});
  }
}

void SpanQueue::Impl::EnsureReserve(const FsSpace& fs) {
  if (read_only_ || reserve_target_ == 0 || reserve_held_ >= reserve_target_) return;
  const uint64_t need = reserve_target_ - reserve_held_;
  // Only when it leaves the headroom free: the reserve must not be what
  // fills the disk.
  if (!fs.ok || fs.free < need + flush_headroom_) return;
  const std::string path = (options_.dir / internal::kReserveFile).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int rc = ::fallocate(fd, 0, 0, static_cast<off_t>(reserve_target_));
  if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
    // No fallocate (some filesystems): write the blocks.
    static const std::string zeros(1 << 20, '\0');
    rc = 0;
    for (uint64_t off = 0; rc == 0 && off < reserve_target_; off += zeros.size()) {
      size_t n = std::min<uint64_t>(zeros.size(), reserve_target_ - off);
      if (::pwrite(fd, zeros.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) rc = -1;
    }
  }
  const int err = errno;
  if (rc != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    reserve_held_ = 0;
    LOG_DEBUG("span store: could not make the disk reserve", {{"path", path}, {"error", std::strerror(err)}});
    return;
  }
  ::fsync(fd);
  ::close(fd);
  const bool again = failure_episode_ > 0;
  reserve_held_ = reserve_target_;
  {
    std::lock_guard lk(state_mu_);
    counters_.disk_reserve_bytes = reserve_held_;
  }
  LOG_INFO(again ? "span store: disk reserve made again" : "span store: disk reserve in place",
           {{"path", path}, {"bytes", reserve_held_}});
}

void SpanQueue::Impl::ReleaseReserve(std::string_view why) {
  if (read_only_) return;
  const std::filesystem::path path = options_.dir / internal::kReserveFile;
  std::error_code ec;
  const bool existed = std::filesystem::remove(path, ec);
  if (!existed && reserve_held_ == 0) return;
  LOG_WARN("span store: released the disk reserve so that RocksDB has room",
           {{"path", path.string()}, {"bytes", reserve_held_}, {"why", why}});
  reserve_held_ = 0;
  std::lock_guard lk(state_mu_);
  counters_.disk_reserve_bytes = 0;
}

void SpanQueue::Impl::FinalSync() {
  if (!wal_dirty_.load()) return;
  wal_dirty_ = false;
  // Never SyncWAL on a store in RocksDB's error state: Debian's RocksDB is
  // built with assertions, and syncing a WAL whose last append failed aborts.
  rocksdb::Status s = RecoverIfFailed();
  if (s.ok()) s = spans_db_->SyncWAL();
  if (s.ok()) s = db_->SyncWAL();
  std::lock_guard lk(state_mu_);
  if (s.ok()) {
    ++counters_.fsyncs;
  } else {
    ++counters_.write_errors;
    LOG_ERROR("span store: WAL sync at close failed", {{"error", s.ToString()}});
  }
}

void SpanQueue::Impl::StoreLoop() {
  auto next_sync = Clock::now() + options_.fsync_interval;
  std::unique_lock lk(bg_mu_);
  for (;;) {
    bg_cv_.wait_until(lk, next_sync, [&] { return bg_stop_ || reclaim_head_ > reclaimed_head_; });
    if (bg_stop_) return;  // Close() syncs once the writer has stopped
    const uint64_t reclaim = reclaim_head_ > reclaimed_head_ ? reclaim_head_ : 0;
    lk.unlock();
    try {
      if (reclaim != 0) {
        std::shared_lock db_lock(db_mu_);
        if (db_ && !store_failed_) {
          std::string lo = SeqKey(0), hi = SeqKey(reclaim);
          rocksdb::Slice begin(lo), end(hi);
          rocksdb::Status r = rocksdb::DeleteFilesInRange(spans_db_.get(), spans_cf_, &begin, &end);
          if (!r.ok()) LOG_WARN("span store: could not drop SST files below the head", {{"error", r.ToString()}});
        }
      }
      const auto now = Clock::now();
      if (now >= next_sync) {
        next_sync = now + options_.fsync_interval;
        SyncWalFiles();
      }
    } catch (const std::exception& e) {
      LOG_ERROR("span store: background work failed", {{"error", e.what()}});
    }
    lk.lock();
    reclaimed_head_ = std::max(reclaimed_head_, reclaim);
  }
}

void SpanQueue::Impl::SyncWalFiles() {
  if (!wal_dirty_.exchange(false)) return;
  // Everything written before the exchange is in the page cache of a file
  // listed below, at or before the size seen (a WAL deleted meanwhile had its
  // memtable flushed to a synced table file first).
  std::string error;
  std::map<std::string, uint64_t> seen;
  for (const std::filesystem::path& dir : WalDirs()) {
    bool new_file = false;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!IsWalFileName(it->path().filename().string())) continue;
      std::error_code size_ec;
      const uint64_t size = it->file_size(size_ec);
      if (size_ec) continue;  // gone
      std::string path = it->path().string();
      auto prev = wal_synced_size_.find(path);
      new_file = new_file || prev == wal_synced_size_.end();
      if (prev == wal_synced_size_.end() || prev->second < size) {
        std::string e = SyncPath(path, /*directory=*/false);
        if (!e.empty()) {
          error = std::move(e);
          continue;  // not recorded: synced again next time
        }
      }
      seen.emplace(std::move(path), size);
    }
    if (ec) error = "list " + dir.string() + ": " + ec.message();
    // A new WAL's directory entry, so that the file itself survives.
    if (error.empty() && new_file) error = SyncPath(dir.string(), /*directory=*/true);
  }
  if (error.empty()) wal_synced_size_ = std::move(seen);
  std::lock_guard lk(state_mu_);
  if (error.empty()) {
    ++counters_.fsyncs;
  } else {
    wal_dirty_ = true;  // again at the next interval
    ++counters_.write_errors;
    if (uint64_t n = sync_log_.Tick("wal sync"))
      LOG_ERROR("span store: WAL sync failed", {{"error", error}, {"failures", n}});
  }
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
