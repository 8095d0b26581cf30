// SpanQueue's consumers, reads, the worker thread and the public calls
// (contract: span_queue.h; locks: span_queue_impl.h; opening and Close:
// span_queue_open.cc; the writer: span_queue_writer.cc).
//
// Consumers: AddConsumer starts a cursor at next_seq (the first one at the
// head: it takes what was buffered without a consumer). Ack moves it forward
// (never back) and, when the slowest cursor passes the head, moves the head
// there in the same WriteBatch as the cursor (spans below the head go lazily,
// store_format.h). Acks are written without fsync: losing one only means
// redelivery.
//
// The worker thread runs ReadAsync, AckAsync and DeadLetterStore::AddAsync in
// the order they were called, so that no RocksDB call (nor an fsync) runs on
// the caller's thread: the forwarders call them from Asio handlers.
#include "buffer/span_queue.h"

#include <pthread.h>
#include <rocksdb/convenience.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "buffer/salvage.h"
#include "buffer/span_queue_impl.h"
#include "buffer/store_format.h"
#include "common/log.h"
#include "common/util.h"

namespace spanvault::buffer {
namespace {

namespace fs = std::filesystem;
using internal::CursorKey;
using internal::DecodeSeq;
using internal::DecodeSpanValue;
using internal::FromRocks;
using internal::kCursorEnd;
using internal::kCursorPrefix;
using internal::kHeadKey;
using internal::kQuarantineHeadKey;
using internal::SeqKey;

Status Validate(const Options& o) {
  std::string problems;
  auto add = [&](std::string_view p) {
    if (!problems.empty()) problems += "; ";
    problems += p;
  };
  if (o.dir.empty()) add("dir is empty");
  if (o.fsync_interval.count() <= 0) add("fsync_interval must be positive");
  if (o.max_age.count() <= 0) add("max_age must be positive");
  if (o.retention.count() < 0) add("retention must not be negative");
  if (o.max_disk_bytes == 0) add("max_disk_bytes must be positive");
  if (o.max_pending_bytes == 0) add("max_pending_bytes must be positive");
  if (o.max_group_bytes == 0) add("max_group_bytes must be positive");
  if (!problems.empty()) return Fail(Error::Invalid("span queue options: " + problems));
  return {};
}

// Allocation failure is the only exception left; it becomes an error value.
template <typename F>
auto NoThrow(std::string_view what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Fail(Error::Io("span queue: " + std::string(what) + ": " + e.what()));
  }
}

}  // namespace

// ---------------------------------------------------------------- consumers

Status SpanQueue::Impl::CheckWritable() const {
  if (read_only_) return Fail(Error::Invalid("span store is open read-only"));
  if (!db_) return Fail(Error::Unavailable("span queue is closed"));
  return {};
}

void SpanQueue::Impl::AddHeadDelete(rocksdb::WriteBatch& wb, uint64_t head, uint64_t new_head) {
  if (new_head <= head) return;
  // No tombstone: the spans below the head go lazily (store_format.h).
  wb.Put(meta_cf_, kHeadKey, SeqKey(new_head));
}

void SpanQueue::Impl::RaiseSpanFloor(uint64_t head) {
  uint64_t cur = span_floor_->load(std::memory_order_relaxed);
  while (head > cur && !span_floor_->compare_exchange_weak(cur, head, std::memory_order_release)) {
  }
}

uint64_t SpanQueue::Impl::MinCursorLocked(std::string_view except) const {
  uint64_t m = UINT64_MAX;
  for (const auto& [name, pos] : cursors_) {
    if (name != except) m = std::min(m, pos);
  }
  return m;
}

uint64_t SpanQueue::Impl::DeliveredLocked() const {
  if (cursors_.empty()) return std::min(delivered_, index_.next_seq());
  return std::min(MinCursorLocked({}), index_.next_seq());
}

uint64_t SpanQueue::Impl::RetentionHeadLocked(uint64_t delivered_until) const {
  if (!retention_on()) return delivered_until;
  const int64_t cutoff = NowNanos() - std::chrono::duration_cast<std::chrono::nanoseconds>(options_.retention).count();
  return index_.RetentionHead(delivered_until, cutoff, options_.local_max_disk_bytes);
}

void SpanQueue::Impl::CheckRetention() {
  if (!retention_on() || store_failed_ || !db_) return;
  std::unique_lock write_lock(write_mu_);
  uint64_t head, new_head;
  {
    std::lock_guard lk(state_mu_);
    head = index_.head_seq();
    new_head = RetentionHeadLocked(DeliveredLocked());
  }
  if (new_head <= head) return;
  rocksdb::WriteBatch wb;
  AddHeadDelete(wb, head, new_head);
  if (rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &wb); !s.ok()) {
    {
      std::lock_guard lk(state_mu_);
      ++counters_.write_errors;
    }
    write_lock.unlock();
    NoteStoreError("retention delete", s);
    return;
  }
  wal_dirty_ = true;
  RaiseSpanFloor(new_head);
  uint64_t trimmed;
  {
    std::lock_guard lk(state_mu_);
    auto removed = index_.TrimBelow(new_head);
    counters_.local_expired_spans += removed.spans;
    trimmed = removed.bytes;
  }
  write_lock.unlock();
  ReclaimBelow(new_head, trimmed);
}

Status SpanQueue::Impl::AddConsumer(std::string_view name) {
  if (name.empty()) return Fail(Error::Invalid("consumer name is empty"));
  std::shared_lock db_lock(db_mu_);
  if (auto st = CheckWritable(); !st) return st;
  std::lock_guard write_lock(write_mu_);
  uint64_t pos;
  {
    std::lock_guard lk(state_mu_);
    if (cursors_.contains(name)) return {};
    // The first consumer takes what was buffered while there was none (no
    // one else will ever deliver it); later ones start at the tail.
    // (Past what the last consumer delivered: local retention keeps it.)
    pos = cursors_.empty() ? std::max(index_.head_seq(), std::min(delivered_, index_.next_seq())) : index_.next_seq();
  }
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), meta_cf_, CursorKey(name), SeqKey(pos));
  if (!s.ok()) return Fail(FromRocks("adding consumer", s));
  wal_dirty_ = true;
  std::lock_guard lk(state_mu_);
  cursors_.emplace(std::string(name), pos);
  return {};
}

Status SpanQueue::Impl::RemoveConsumer(std::string_view name) {
  std::shared_lock db_lock(db_mu_);
  if (auto st = CheckWritable(); !st) return st;
  std::lock_guard write_lock(write_mu_);
  uint64_t head, new_head = 0, delivered = 0;
  {
    std::lock_guard lk(state_mu_);
    if (!cursors_.contains(name)) return {};
    head = index_.head_seq();
    uint64_t m = MinCursorLocked(name);
    if (m != UINT64_MAX) new_head = RetentionHeadLocked(std::min(m, index_.next_seq()));
    if (m == UINT64_MAX && retention_on())
      delivered = std::max(delivered_, std::min(cursors_.find(name)->second, index_.next_seq()));
  }
  rocksdb::WriteBatch wb;
  wb.Delete(meta_cf_, CursorKey(name));
  if (delivered > 0) wb.Put(meta_cf_, internal::kDeliveredKey, SeqKey(delivered));
  AddHeadDelete(wb, head, new_head);
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return Fail(FromRocks("removing consumer", s));
  wal_dirty_ = true;
  RaiseSpanFloor(new_head);
  std::lock_guard lk(state_mu_);
  cursors_.erase(cursors_.find(name));
  index_.TrimBelow(new_head);
  delivered_ = std::max(delivered_, delivered);
  return {};
}

Status SpanQueue::Impl::Ack(std::string_view name, uint64_t until) {
  std::shared_lock db_lock(db_mu_);
  // A failed store (even one the writer could not reopen yet) still takes
  // acks, in memory: delivery goes on, and what it frees is what heals a
  // full disk.
  if (read_only_ || !store_failed_) {
    if (auto st = CheckWritable(); !st) return st;
  }
  std::unique_lock write_lock(write_mu_);
  uint64_t head, new_head;
  {
    std::lock_guard lk(state_mu_);
    auto it = cursors_.find(name);
    if (it == cursors_.end()) return Fail(Error::Invalid("unknown consumer: " + std::string(name)));
    if (until > index_.next_seq()) {
      return Fail(Error::Invalid("ack up to seq " + std::to_string(until) + " beyond next_seq " +
                                 std::to_string(index_.next_seq())));
    }
    if (until <= it->second) return {};  // never backwards
    head = index_.head_seq();
    new_head = RetentionHeadLocked(std::min(until, MinCursorLocked(name)));
  }
  bool persisted = false;
  if (!store_failed_ && db_) {
    rocksdb::WriteBatch wb;
    wb.Put(meta_cf_, CursorKey(name), SeqKey(until));
    AddHeadDelete(wb, head, new_head);
    persisted = db_->Write(rocksdb::WriteOptions(), &wb).ok();
  }
  if (persisted) {
    wal_dirty_ = true;
  } else {
    // The writer persists the cursors and the head once the store is ok
    // again (PersistPendingAcks); a crash before that only means
    // redelivery. Raising the floor first is safe here: every consumer has
    // acknowledged the spans below new_head, so the compaction filter may
    // drop them even if the head on disk is older.
    acks_unpersisted_ = true;
  }
  RaiseSpanFloor(new_head);
  uint64_t trimmed;
  {
    std::lock_guard lk(state_mu_);
    cursors_.find(name)->second = until;
    trimmed = index_.TrimBelow(new_head).bytes;
  }
  write_lock.unlock();
  ReclaimBelow(new_head, trimmed);
  return {};
}

void SpanQueue::Impl::ReclaimBelow(uint64_t head, uint64_t trimmed) {
  // Spans below the head stay in their table files until a compaction reads
  // them; whole SST files below it can go at once (a metadata change, no
  // rewrite). L0 files wait until they are moved down.
  if (trimmed_since_reclaim_.fetch_add(trimmed) + trimmed < reclaim_bytes_.load()) return;
  trimmed_since_reclaim_ = 0;
  {
    std::lock_guard lk(bg_mu_);
    reclaim_head_ = std::max(reclaim_head_, head);
  }
  bg_cv_.notify_one();  // StoreLoop
}

std::vector<std::string> SpanQueue::Impl::Consumers() const {
  std::lock_guard lk(state_mu_);
  std::vector<std::string> names;
  for (const auto& [name, pos] : cursors_) names.push_back(name);
  return names;
}

Result<uint64_t> SpanQueue::Impl::ConsumerPosition(std::string_view name) const {
  std::lock_guard lk(state_mu_);
  auto it = cursors_.find(name);
  if (it == cursors_.end()) return Fail(Error::Invalid("unknown consumer: " + std::string(name)));
  // Spans dropped by a bound move every cursor below the head up to it.
  return std::max(it->second, index_.head_seq());
}

// ---------------------------------------------------------------- reads

Result<RecordBatch> SpanQueue::Impl::Read(uint64_t from_seq, size_t max_spans, size_t max_bytes) const {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Fail(Error::Unavailable("span queue is closed"));
  uint64_t lo, hi;
  {
    std::lock_guard lk(state_mu_);
    lo = std::max(from_seq, index_.head_seq());
    hi = index_.next_seq();
  }
  RecordBatch out;
  if (lo >= hi || max_spans == 0) return out;
  out.entries.reserve(std::min<uint64_t>(max_spans, hi - lo));
  out.data.reserve(std::min<size_t>(max_bytes, 64u << 20) + 4096);
  // A batch reads ahead and leaves the block cache alone (a consumer
  // draining a backlog); a single span (a status lookup) goes through it.
  internal::SeqRangeIterator it(spans_store_, spans_cf_, lo, hi, /*full_scan=*/max_spans > 1);
  for (it->SeekToFirst(); it->Valid() && out.entries.size() < max_spans; it->Next()) {
    auto seq = DecodeSeq(it->key());
    int64_t received_ns = 0;
    std::string_view json;
    if (!seq || !DecodeSpanValue(it->value(), &received_ns, &json)) {
      // Skipped, not an error: one bad record must not wedge a consumer (its
      // ack covers the seq like any other).
      LOG_ERROR("span store: unreadable span skipped", {{"seq", seq.value_or(0)}});
      continue;
    }
    if (!out.entries.empty() && out.data.size() + json.size() > max_bytes) break;
    out.entries.push_back(
        {*seq, received_ns, static_cast<uint32_t>(out.data.size()), static_cast<uint32_t>(json.size())});
    out.data += json;
  }
  if (!it->status().ok()) {
    if (it->status().IsCorruption()) NoteDamage("reading spans: " + it->status().ToString());
    return Fail(FromRocks("read", it->status()));
  }
  return out;
}

uint64_t SpanQueue::Impl::next_seq() const {
  std::lock_guard lk(state_mu_);
  return index_.next_seq();
}

Stats SpanQueue::Impl::GetStats() const {
  std::lock_guard lk(state_mu_);
  Stats s = counters_;
  s.spans = index_.spans();
  s.bytes = index_.bytes();
  s.oldest_received_ns = index_.oldest_received_ns();
  s.head_seq = index_.head_seq();
  s.next_seq = index_.next_seq();
  if (retention_on()) {
    auto local = index_.Below(DeliveredLocked());
    s.local_spans = local.spans;
    s.local_bytes = local.bytes;
  }
  s.pending_spans = s.spans - std::min(s.spans, s.local_spans);
  s.quarantined = quarantine_.entries_locked();
  s.quarantined_total = quarantine_.total_locked();
  s.dead_letters = dead_letters_.entries_locked();
  s.dead_letters_total = dead_letters_.total_locked();
  s.dead_letters_dropped = dead_letters_.dropped_locked();
  return s;
}

// ---------------------------------------------------------------- the worker

Status SpanQueue::Impl::StartWorker() {
  try {
    worker_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "sv-buffer");
      WorkerLoop();
    });
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("span queue: cannot start the worker thread: ") + e.what()));
  }
  return {};
}

bool SpanQueue::Impl::Post(std::function<void()> task) {
  {
    std::lock_guard lk(worker_mu_);
    if (worker_stop_ || !worker_.joinable()) return false;
    tasks_.push_back(std::move(task));
  }
  worker_cv_.notify_one();
  return true;
}

void SpanQueue::Impl::WorkerLoop() {
  std::unique_lock lk(worker_mu_);
  for (;;) {
    worker_cv_.wait(lk, [&] { return worker_stop_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and everything queued ran
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lk.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      LOG_ERROR("span queue: a callback of an asynchronous call threw", {{"error", e.what()}});
    } catch (...) {
      LOG_ERROR("span queue: a callback of an asynchronous call threw");
    }
    lk.lock();
  }
}

bool SpanQueue::Impl::StopWorker() {
  {
    std::lock_guard lk(worker_mu_);
    worker_stop_ = true;
  }
  worker_cv_.notify_all();
  if (!worker_.joinable()) return true;
  if (std::this_thread::get_id() == worker_.get_id()) return false;
  worker_.join();
  return true;
}

// ---------------------------------------------------------------- SpanQueue

SpanQueue::SpanQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SpanQueue::~SpanQueue() {
  if (impl_) impl_->Close();
}

Result<std::unique_ptr<SpanQueue>> SpanQueue::Open(const Options& options) {
  if (auto st = Validate(options); !st) return Fail(st.error());
  try {
    auto impl = std::make_unique<Impl>(options, /*read_only=*/false);
    if (auto st = impl->OpenPrimary(); !st) return Fail(st.error());
    if (auto st = impl->StartWriter(); !st) return Fail(st.error());
    if (auto st = impl->StartWorker(); !st) return Fail(st.error());
    std::unique_ptr<SpanQueue> queue(new SpanQueue(std::move(impl)));
    if (auto st = queue->impl_->StartTraceIndex(*queue); !st) return Fail(st.error());
    return queue;
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("span queue: open: ") + e.what()));
  }
}

Result<std::unique_ptr<SpanQueue>> SpanQueue::OpenReadOnly(const std::filesystem::path& dir) {
  if (dir.empty()) return Fail(Error::Invalid("span queue options: dir is empty"));
  try {
    Options o;
    o.dir = dir;
    auto impl = std::make_unique<Impl>(o, /*read_only=*/true);
    if (auto st = impl->OpenSecondary(); !st) return Fail(st.error());
    if (auto st = impl->StartWorker(); !st) return Fail(st.error());
    return std::unique_ptr<SpanQueue>(new SpanQueue(std::move(impl)));
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("span queue: open read-only: ") + e.what()));
  }
}

void SpanQueue::Append(span::Batch batch, bool fsync, std::function<void(const StoreResult&)> done) {
  impl_->Append(std::move(batch), fsync, std::move(done));
}

Result<RecordBatch> SpanQueue::Read(uint64_t from_seq, size_t max_spans, size_t max_bytes) const {
  return NoThrow("read", [&] { return impl_->Read(from_seq, max_spans, max_bytes); });
}

void SpanQueue::ReadAsync(uint64_t from_seq, size_t max_spans, size_t max_bytes, ReadDone done) {
  // Shared: on a refused Post the task (and what it holds) is gone, `done` is not.
  auto shared = std::make_shared<ReadDone>(std::move(done));
  if (!impl_->Post(
          [this, from_seq, max_spans, max_bytes, shared] { (*shared)(Read(from_seq, max_spans, max_bytes)); })) {
    (*shared)(Fail(Error::Unavailable("span queue is closed")));
  }
}

Status SpanQueue::AddConsumer(std::string_view name) {
  return NoThrow("adding consumer", [&] { return impl_->AddConsumer(name); });
}

Status SpanQueue::RemoveConsumer(std::string_view name) {
  return NoThrow("removing consumer", [&] { return impl_->RemoveConsumer(name); });
}

std::vector<std::string> SpanQueue::Consumers() const { return impl_->Consumers(); }

Result<uint64_t> SpanQueue::ConsumerPosition(std::string_view name) const {
  return NoThrow("consumer position", [&] { return impl_->ConsumerPosition(name); });
}

Status SpanQueue::Ack(std::string_view name, uint64_t until) {
  return NoThrow("ack", [&] { return impl_->Ack(name, until); });
}

void SpanQueue::AckAsync(std::string_view name, uint64_t until, StatusDone done) {
  auto shared = std::make_shared<StatusDone>(std::move(done));
  if (!impl_->Post([this, name = std::string(name), until, shared] { (*shared)(Ack(name, until)); })) {
    (*shared)(Fail(Error::Unavailable("span queue is closed")));
  }
}

Stats SpanQueue::GetStats() const { return impl_->GetStats(); }
uint64_t SpanQueue::next_seq() const { return impl_->next_seq(); }
std::string SpanQueue::store_id() const { return impl_->store_id(); }

Result<RecordBatch> SpanQueue::ReadSeqs(const std::vector<uint64_t>& seqs, size_t max_bytes) const {
  return NoThrow("read", [&] { return impl_->ReadSeqs(seqs, max_bytes); });
}
TraceIndex* SpanQueue::traces() { return impl_->traces(); }
const TraceIndex* SpanQueue::traces() const { return impl_->traces(); }

Status SpanQueue::Impl::StartTraceIndex(SpanQueue& queue) {
  if (!retention_on() || read_only_) return {};
  // Derived data: an index that does not open is made again from the spans,
  // and without one the queue still runs (the query API answers 503).
  const auto dir = options_.dir / internal::kIndexDbDir;
  auto index = TraceIndex::Open(queue, dir);
  if (!index) {
    LOG_WARN("trace index: cannot open it; rebuilding it from the spans", {{"error", index.error().message}});
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    index = TraceIndex::Open(queue, dir);
  }
  if (!index) {
    LOG_ERROR("trace index: unavailable; local queries are off", {{"error", index.error().message}});
    return {};
  }
  traces_ = std::move(*index);
  traces_ptr_ = traces_.get();
  traces_->Notify();
  return {};
}

Result<RecordBatch> SpanQueue::Impl::ReadSeqs(const std::vector<uint64_t>& seqs, size_t max_bytes) const {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Fail(Error::Unavailable("span queue is closed"));
  uint64_t lo, hi;
  {
    std::lock_guard lk(state_mu_);
    lo = index_.head_seq();
    hi = index_.next_seq();
  }
  std::vector<std::string> keys;
  std::vector<rocksdb::Slice> slices;
  std::vector<uint64_t> wanted;
  for (uint64_t s : seqs) {
    if (s >= lo && s < hi) wanted.push_back(s);
  }
  keys.reserve(wanted.size());
  for (uint64_t s : wanted) keys.push_back(SeqKey(s));
  for (const auto& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  spans_store_->MultiGet(rocksdb::ReadOptions(), spans_cf_, keys.size(), slices.data(), values.data(), statuses.data());
  RecordBatch out;
  for (size_t i = 0; i < keys.size(); ++i) {
    int64_t received_ns = 0;
    std::string_view json;
    if (!statuses[i].ok() || !DecodeSpanValue(values[i], &received_ns, &json)) continue;
    if (!out.entries.empty() && out.data.size() + json.size() > max_bytes) break;
    out.entries.push_back(
        {wanted[i], received_ns, static_cast<uint32_t>(out.data.size()), static_cast<uint32_t>(json.size())});
    out.data.append(json);
  }
  return out;
}

Quarantine& SpanQueue::quarantine() { return impl_->quarantine(); }
const Quarantine& SpanQueue::quarantine() const { return impl_->quarantine(); }
DeadLetterStore& SpanQueue::dead_letters() { return impl_->dead_letters(); }
const DeadLetterStore& SpanQueue::dead_letters() const { return impl_->dead_letters(); }

void SpanQueue::Close() { impl_->Close(); }

}  // namespace spanvault::buffer
