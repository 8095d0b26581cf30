// The durable span queue (contract: span_queue.h; on-disk format:
// store_format.h; locks: span_queue_impl.h; the writer thread:
// span_queue_writer.cc). This file: opening and recovery, consumers, reads,
// close.
//
// Open recovers everything with one scan per column family, each starting at
// its persisted floor ("head", "quarantine_head") so deleted ranges are never
// walked: the SpanIndex from the spans' keys, value sizes and received_ns
// prefixes, the quarantine index from keys and sizes, the cursors from meta.
// next_seq is one past the last span, raised to the largest cursor and the
// floor, so seqs never go backwards even when the store was emptied.
//
// A store RocksDB reports as corrupt (at DB::Open or during that scan) is
// renamed to "<dir>.corrupt-<unix seconds>" and a fresh one is created: a
// damaged store must not keep the daemon down.
//
// Consumers: AddConsumer starts a cursor at next_seq (the first one at the
// head: it takes what was buffered without a consumer). Ack moves it forward
// (never back) and, when the slowest cursor passes the head, deletes
// [head, slowest) with one DeleteRange in the same WriteBatch as the cursor.
// Acks are written without fsync: losing one only means redelivery.
#include "buffer/span_queue.h"

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

// Extents hold at most 1/32 of max_disk_bytes, so dropping whole extents at
// the bound frees about 3% of it at a time (never more than one extent).
// On a small filesystem the extents follow its size instead (the bound can
// then be no larger), and so do the memtables: a WAL file preallocates 1.1x
// the memtable size, and a flush writes a table file of that size while its
// WAL is still there. 32 MiB memtables made a 48 MiB filesystem run out of
// space with 16 MiB still free. 1/16 of the filesystem, 1..32 MiB.
SpanQueue::Impl::Impl(Options options, bool read_only)
    : options_(std::move(options)), read_only_(read_only), index_(std::max<uint64_t>(options_.max_disk_bytes / 32, 1)) {
  effective_max_bytes_ = options_.max_disk_bytes;
  reserve_target_ = options_.disk_reserve_bytes;
  if (read_only_) return;
  if (FsSpace fs = StatFs(); fs.ok && fs.total > 0) {
    write_buffer_bytes_ = std::clamp<uint64_t>(fs.total / 16, 1ull << 20, 32ull << 20);
    // Two flushes at once (max_background_flushes = 2) and the next WAL's
    // preallocation: ~3 memtables. Compactions of these increasing keys are
    // mostly trivial moves; the others write files of at most 2 memtables
    // (target_file_size_base below) and free their inputs after.
    flush_headroom_ = 3 * write_buffer_bytes_;
    reserve_target_ = std::min<uint64_t>(options_.disk_reserve_bytes, fs.total / 8);
    index_ = internal::SpanIndex(std::max<uint64_t>(std::min(options_.max_disk_bytes, fs.total) / 32, 1));
  }
}

SpanQueue::Impl::~Impl() { Close(); }

// ---------------------------------------------------------------- open

rocksdb::Status SpanQueue::Impl::OpenDb() {
  ++generation_;
  rocksdb::DBOptions dbo = internal::MakeDbOptions();
  if (options_.env != nullptr) dbo.env = options_.env;
  const std::string dir = options_.dir.string();
  const std::string spans_dir = (options_.dir / internal::kSpansDbDir).string();
  auto descriptors = internal::Descriptors(dbo, dir);
  if (!read_only_) {
    // Sized to the filesystem (see the constructor); the defaults on one of
    // 512 MiB and more.
    dbo.max_total_wal_size = std::min<uint64_t>(dbo.max_total_wal_size, 8 * write_buffer_bytes_);
    // A MANIFEST preallocates 4 MiB: 8 MiB of a 48 MiB filesystem for two.
    dbo.manifest_preallocation_size = std::min<size_t>(dbo.manifest_preallocation_size, write_buffer_bytes_ / 4);
    // No automatic Resume() after a retryable error (ENOSPC): the writer
    // recovers by close-and-reopen (RepairIfFailed); RocksDB's own recovery
    // thread syncing a WAL whose append failed aborts Debian's build.
    dbo.max_bgerror_resume_count = 0;
    dbo.info_log = internal::NewStoreInfoLog(dir);
    for (auto& d : descriptors) {
      d.options.write_buffer_size = std::min<size_t>(d.options.write_buffer_size, write_buffer_bytes_);
    }
  }
  if (read_only_) {
    // A read-only view cannot create column families: leave out the ones an
    // older store does not have yet.
    std::vector<std::string> existing;
    if (rocksdb::DB::ListColumnFamilies(dbo, dir, &existing).ok()) {
      std::erase_if(descriptors, [&](const auto& d) {
        return std::find(existing.begin(), existing.end(), d.name) == existing.end();
      });
    }
  }
  rocksdb::DB* raw = nullptr;
  handles_.clear();
  rocksdb::Status s;
  if (read_only_) {
    s = rocksdb::DB::OpenAsSecondary(dbo, dir, secondary_dir_.string(), descriptors, &handles_, &raw);
    if (s.ok()) s = raw->TryCatchUpWithPrimary();
  } else {
    s = rocksdb::DB::Open(dbo, dir, descriptors, &handles_, &raw);
  }
  if (raw != nullptr) db_.reset(raw);
  if (!s.ok()) {
    CloseDb();
    return s;
  }
  for (size_t i = 0; i < handles_.size() && i < descriptors.size(); ++i) {
    const std::string& name = descriptors[i].name;
    if (name == internal::kSpansCf) legacy_spans_cf_ = handles_[i];
    if (name == internal::kQuarantineCf) quarantine_cf_ = handles_[i];
    if (name == internal::kMetaCf) meta_cf_ = handles_[i];
    if (name == internal::kDeadLetterCf) dead_letter_cf_ = handles_[i];
  }
  if (quarantine_cf_ == nullptr || meta_cf_ == nullptr) {
    CloseDb();
    return rocksdb::Status::Corruption("the store lacks the quarantine or meta column family");
  }

  std::error_code ec;
  const bool have_spans_db = fs::exists(fs::path(spans_dir) / "CURRENT", ec);
  if (read_only_ && !have_spans_db) {
    if (legacy_spans_cf_ == nullptr) {
      CloseDb();
      return rocksdb::Status::Corruption("the store has no spans database");
    }
    spans_store_ = db_.get();  // a store from before the split
    spans_cf_ = legacy_spans_cf_;
    return s;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> spans_handles;
  raw = nullptr;
  if (read_only_) {
    s = rocksdb::DB::OpenAsSecondary(dbo, spans_dir, (secondary_dir_ / internal::kSpansDbDir).string(),
                                     internal::SpansDbDescriptors(nullptr), &spans_handles, &raw);
    if (s.ok()) s = raw->TryCatchUpWithPrimary();
  } else {
    auto spans_descriptors = internal::SpansDbDescriptors(internal::SpanFloor(span_floor_));
    for (auto& d : spans_descriptors) {
      d.options.write_buffer_size = std::min<size_t>(d.options.write_buffer_size, write_buffer_bytes_);
      d.options.target_file_size_base = std::min<uint64_t>(d.options.target_file_size_base, 2 * write_buffer_bytes_);
    }
    dbo.info_log = internal::NewStoreInfoLog(spans_dir);
    s = rocksdb::DB::Open(dbo, spans_dir, spans_descriptors, &spans_handles, &raw);
  }
  if (raw != nullptr) spans_db_.reset(raw);
  // The default column family's handle: the DB's own is used instead.
  for (auto* h : spans_handles) {
    if (spans_db_) spans_db_->DestroyColumnFamilyHandle(h);
  }
  if (!s.ok()) {
    CloseDb();
    return s;
  }
  spans_store_ = spans_db_.get();
  spans_cf_ = spans_db_->DefaultColumnFamily();
  return s;
}

void SpanQueue::Impl::CloseDb() {
  if (spans_db_) {
    spans_db_->Close();
    spans_db_.reset();
  }
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
    db_.reset();
  }
  handles_.clear();
  spans_store_ = nullptr;
  spans_cf_ = legacy_spans_cf_ = quarantine_cf_ = meta_cf_ = dead_letter_cf_ = nullptr;
}

std::vector<fs::path> SpanQueue::Impl::WalDirs() const { return {options_.dir, options_.dir / internal::kSpansDbDir}; }

rocksdb::Status SpanQueue::Impl::MigrateSpans() {
  if (legacy_spans_cf_ == nullptr || read_only_) return rocksdb::Status::OK();
  uint64_t head = 1;
  {
    std::string v;
    if (db_->Get(rocksdb::ReadOptions(), meta_cf_, kHeadKey, &v).ok()) head = DecodeSeq(v).value_or(1);
  }
  // Below the head everything was delivered or dropped (deleted lazily).
  uint64_t spans = 0, bytes = 0;
  {
    internal::SeqRangeIterator it(db_.get(), legacy_spans_cf_, std::max<uint64_t>(head, 1), 0, /*full_scan=*/true);
    rocksdb::WriteBatch wb;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      wb.Put(spans_cf_, it->key(), it->value());
      ++spans;
      bytes += it->key().size() + it->value().size();
      if (wb.GetDataSize() >= (4u << 20)) {
        if (rocksdb::Status s = spans_db_->Write(rocksdb::WriteOptions(), &wb); !s.ok()) return s;
        wb.Clear();
      }
    }
    if (!it->status().ok()) return it->status();
    if (wb.Count() > 0) {
      if (rocksdb::Status s = spans_db_->Write(rocksdb::WriteOptions(), &wb); !s.ok()) return s;
    }
  }
  // On disk (a synced table file) before the original goes.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  fo.allow_write_stall = true;
  if (rocksdb::Status s = spans_db_->Flush(fo); !s.ok()) return s;
  if (rocksdb::Status s = db_->DropColumnFamily(legacy_spans_cf_); !s.ok()) return s;
  std::erase(handles_, legacy_spans_cf_);
  db_->DestroyColumnFamilyHandle(legacy_spans_cf_);
  legacy_spans_cf_ = nullptr;
  LOG_INFO("span store: moved the buffered spans into their own database",
           {{"dir", (options_.dir / internal::kSpansDbDir).string()}, {"spans", spans}, {"bytes", bytes}});
  return rocksdb::Status::OK();
}

namespace {

// "<base>.corrupt-<unix seconds>", not taken yet.
fs::path AsidePath(fs::path base) {
  if (!base.has_filename()) base = base.parent_path();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  std::string target = base.string() + ".corrupt-" + std::to_string(secs.count());
  std::error_code ec;
  for (int i = 2; fs::exists(target, ec); ++i) {
    target = base.string() + ".corrupt-" + std::to_string(secs.count()) + "-" + std::to_string(i);
  }
  return target;
}

}  // namespace

Status SpanQueue::Impl::MoveAside(const rocksdb::Status& why) {
  fs::path base = options_.dir;
  if (!base.has_filename()) base = base.parent_path();
  const std::string target = AsidePath(base).string();
  std::error_code ec;
  fs::rename(base, target, ec);
  if (ec) return Fail(Error::Io("cannot move corrupt span store " + base.string() + " aside: " + ec.message()));
  LOG_ERROR("span store is corrupt; moved aside, starting a fresh one",
            {{"dir", base.string()}, {"moved_to", target}, {"error", why.ToString()}});
  counters_.store_recovered_from = target;
  ++counters_.stores_moved_aside;
  fs::create_directories(base, ec);
  return {};
}


Status SpanQueue::Impl::ReplaceDamaged(const std::string& why, uint64_t next_seq,
                                       const std::vector<std::string>& consumers) {
  std::error_code ec;
  const fs::path spans = options_.dir / internal::kSpansDbDir;
  // Seqs never go back, and consumers keep their names: a head (and
  // cursors, in a fresh main database) at next_seq, then Recover again.
  auto continue_seqs = [&](bool fresh_main) -> Status {
    uint64_t next;
    {
      std::lock_guard lk(state_mu_);
      next = index_.next_seq();
    }
    if (next >= next_seq && !fresh_main) return {};
    rocksdb::WriteBatch wb;
    const uint64_t at = std::max(next, next_seq);
    wb.Put(meta_cf_, internal::kHeadKey, internal::SeqKey(at));
    if (fresh_main) {
      for (const auto& c : consumers) wb.Put(meta_cf_, internal::CursorKey(c), internal::SeqKey(at));
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (rocksdb::Status w = db_->Write(wo, &wb); !w.ok()) return Fail(FromRocks("writing the head", w));
    return Recover();
  };
  if (fs::exists(spans / "CURRENT", ec)) {
    const fs::path target = AsidePath(options_.dir);
    fs::rename(spans, target, ec);
    if (ec) return Fail(Error::Io("cannot move the damaged spans database " + spans.string() + " aside: " + ec.message()));
    rocksdb::Status s = OpenDb();
    Status r = s.ok() ? Recover() : Status(Fail(FromRocks("opening", s)));
    if (r) {
      uint64_t head;
      {
        std::lock_guard lk(state_mu_);
        head = index_.head_seq();
      }
      // The main database's head, beside the spans it applies to (salvage
      // skips what is below it).
      std::ofstream(target / kHeadFile) << head << "\n";
      if (Status c = continue_seqs(/*fresh_main=*/false); !c) return c;
      LOG_ERROR("span store: the spans database is damaged; moved it aside, going on with a fresh one",
                {{"dir", spans.string()}, {"moved_to", target.string()}, {"error", why}});
      std::lock_guard lk(state_mu_);
      counters_.store_recovered_from = target.string();
      ++counters_.stores_moved_aside;
      return {};
    }
    // The main database is damaged too: the whole store goes aside, its
    // spans back in it.
    CloseDb();
    fs::rename(target, spans, ec);
  }
  if (Status st = MoveAside(rocksdb::Status::Corruption(why)); !st) return st;
  if (rocksdb::Status s = OpenDb(); !s.ok()) return Fail(FromRocks("opening a fresh store", s));
  if (Status r = Recover(); !r) return r;
  if (next_seq > 1 || !consumers.empty()) return continue_seqs(/*fresh_main=*/true);
  return {};
}

void SpanQueue::Impl::NoteDamage(const std::string& why) const {
  {
    std::lock_guard lk(damage_mu_);
    damage_error_ = why;
    damage_generation_ = generation_;
  }
  damaged_ = true;
  std::lock_guard lk(queue_mu_);
  queue_cv_.notify_one();
}

void SpanQueue::Impl::ReplaceIfDamaged() {
  if (!damaged_.exchange(false)) return;
  Status st;
  std::string moved;
  {
    // Lock order as everywhere: db_mu_, then write_mu_ (then state_mu_).
    std::unique_lock db_lock(db_mu_);
    std::lock_guard write_lock(write_mu_);
    std::string why;
    {
      std::lock_guard lk(damage_mu_);
      why = damage_error_;
      if (damage_generation_ != generation_) return;  // met in databases already replaced
    }
    uint64_t next;
    std::vector<std::string> consumers;
    std::string before;
    {
      std::lock_guard lk(state_mu_);
      next = index_.next_seq();
      for (const auto& [name, pos] : cursors_) consumers.push_back(name);
      before = counters_.store_recovered_from;
    }
    CloseDb();
    st = ReplaceDamaged(why, next, consumers);
    std::lock_guard lk(state_mu_);
    if (counters_.store_recovered_from != before) moved = counters_.store_recovered_from;
  }
  if (!st) {
    // Still closed or failed: RepairIfFailed tries again every second.
    NoteStoreError("replacing the damaged store", rocksdb::Status::IOError(st.error().message));
    if (!moved.empty() && options_.on_moved_aside) options_.on_moved_aside(moved);
    return;
  }
  if (store_failed_) NoteStoreRecovered("moved the damaged part aside");
  if (!moved.empty() && options_.on_moved_aside) options_.on_moved_aside(moved);
}

Status SpanQueue::Impl::Recover() {
  auto get_u64 = [&](const char* key) -> std::optional<uint64_t> {
    std::string v;
    if (!db_->Get(rocksdb::ReadOptions(), meta_cf_, key, &v).ok()) return std::nullopt;
    return DecodeSeq(v);
  };
  const uint64_t span_floor = std::max<uint64_t>(get_u64(kHeadKey).value_or(1), 1);
  const uint64_t quarantine_floor = std::max<uint64_t>(get_u64(kQuarantineHeadKey).value_or(1), 1);
  {
    std::string id;
    if (db_->Get(rocksdb::ReadOptions(), meta_cf_, internal::kStoreIdKey, &id).ok() && id.size() == 16) {
      store_id_ = id;
    } else if (!read_only_) {
      id = RandomHexId(8);
      rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), meta_cf_, internal::kStoreIdKey, id);
      if (!s.ok()) return Fail(FromRocks("writing the store id", s));
      store_id_ = id;
    }
  }

  std::lock_guard lk(state_mu_);
  cursors_.clear();
  uint64_t max_cursor = 0;
  {
    rocksdb::ReadOptions ro;
    rocksdb::Slice lo(kCursorPrefix), hi(kCursorEnd);
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &hi;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, meta_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto pos = DecodeSeq(it->value());
      if (!pos) continue;
      cursors_[it->key().ToString().substr(sizeof(kCursorPrefix) - 1)] = *pos;
      max_cursor = std::max(max_cursor, *pos);
    }
    if (!it->status().ok()) return Fail(FromRocks("scanning consumers", it->status()));
  }
  index_.Reset(span_floor);
  if (!read_only_) RaiseSpanFloor(span_floor);
  {
    internal::SeqRangeIterator it(spans_store_, spans_cf_, span_floor, 0, /*full_scan=*/true);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto seq = DecodeSeq(it->key());
      if (!seq) continue;
      int64_t received_ns = 0;  // an unreadable value counts as very old: max_age takes it away
      DecodeSpanValue(it->value(), &received_ns, nullptr);
      index_.Add(*seq, it->key().size() + it->value().size(), received_ns);
    }
    if (!it->status().ok()) return Fail(FromRocks("scanning spans", it->status()));
  }
  index_.SkipTo(max_cursor);
  quarantine_ = internal::QuarantineIndex();
  next_quarantine_id_ = quarantine_floor;
  {
    internal::SeqRangeIterator it(db_.get(), quarantine_cf_, quarantine_floor);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto id = DecodeSeq(it->key());
      if (!id) continue;
      quarantine_.Add(*id, it->key().size() + it->value().size());
      next_quarantine_id_ = std::max(next_quarantine_id_, *id + 1);
    }
    if (!it->status().ok()) return Fail(FromRocks("scanning quarantine", it->status()));
  }
  return RecoverDeadLetters(std::max<uint64_t>(get_u64(internal::kDeadLetterHeadKey).value_or(1), 1));
}

Status SpanQueue::Impl::OpenPrimary() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) return Fail(Error::Io("cannot create " + options_.dir.string() + ": " + ec.message()));
  auto open_failed = [&](const rocksdb::Status& s) {
    return Fail(Error::Io("cannot open span store " + options_.dir.string() + ": " + s.ToString()));
  };
  {
    // A reserve file left by an earlier run (docs/durability.md).
    std::error_code size_ec;
    const uint64_t held = fs::file_size(options_.dir / internal::kReserveFile, size_ec);
    reserve_held_ = size_ec ? 0 : held;
  }
  rocksdb::Status s = OpenDb();
  if (internal::IsNoSpace(s) && reserve_held_ > 0) {
    // Replaying the WAL (a flush) needs room the filesystem no longer has:
    // the reserve is for that.
    ReleaseReserve("cannot open the span store: " + s.ToString());
    s = OpenDb();
  }
  Status r;
  if (s.IsCorruption()) {
    CloseDb();
    r = ReplaceDamaged(s.ToString(), 0, {});
  } else {
    if (!s.ok()) return open_failed(s);
    if (s = MigrateSpans(); !s.ok()) {
      CloseDb();
      return Fail(Error::Io("cannot move the spans of " + options_.dir.string() +
                            " into their own database: " + s.ToString()));
    }
    r = Recover();
    if (!r && r.error().code == Error::Code::kCorruption) {
      CloseDb();
      r = ReplaceDamaged(r.error().message, 0, {});
    }
  }
  if (!r) return r;
  UpdateDiskBudget(/*force=*/true);  // and the reserve, when there is room for it
  std::lock_guard lk(state_mu_);
  LOG_INFO("span store open", {{"dir", options_.dir.string()},
                               {"spans", index_.spans()},
                               {"bytes", index_.bytes()},
                               {"head_seq", index_.head_seq()},
                               {"next_seq", index_.next_seq()},
                               {"consumers", cursors_.size()},
                               {"effective_max_bytes", counters_.effective_max_bytes},
                               {"bound", counters_.bound},
                               {"disk_free_bytes", counters_.disk_free_bytes},
                               {"disk_reserve_bytes", reserve_held_},
                               {"wal_crc32c", internal::Crc32cImplementation()}});
  return {};
}

Status SpanQueue::Impl::OpenSecondary() {
  std::error_code ec;
  if (!fs::exists(options_.dir / "CURRENT", ec)) return Fail(Error::Io("no span store at " + options_.dir.string()));
  char tmpl[] = "/tmp/spanvault-ro.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Fail(Error::Io("cannot create a temporary directory in /tmp"));
  secondary_dir_ = tmpl;
  rocksdb::Status s = OpenDb();
  if (!s.ok()) {
    return Fail(Error::Io("cannot open span store " + options_.dir.string() + " for reading: " + s.ToString()));
  }
  return Recover();
}

void SpanQueue::Impl::Close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return;
  {
    std::lock_guard lk(queue_mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  space_cv_.notify_all();
  if (writer_.joinable()) {
    if (std::this_thread::get_id() == writer_.get_id()) {
      // From a `done` callback: the writer cannot join itself. It stops after
      // this group; a Close() on another thread (or the destructor) finishes.
      LOG_WARN("span queue: Close() called from an append callback; finishing later");
      return;
    }
    writer_.join();
  }
  {
    std::lock_guard lk(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (store_thread_.joinable()) store_thread_.join();
  std::unique_lock db_lock(db_mu_);
  if (db_ && !read_only_) FinalSync();
  CloseDb();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
  closed_ = true;
}

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
    pos = cursors_.empty() ? index_.head_seq() : index_.next_seq();
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
  uint64_t head, new_head = 0;
  {
    std::lock_guard lk(state_mu_);
    if (!cursors_.contains(name)) return {};
    head = index_.head_seq();
    uint64_t m = MinCursorLocked(name);
    if (m != UINT64_MAX) new_head = std::min(m, index_.next_seq());
  }
  rocksdb::WriteBatch wb;
  wb.Delete(meta_cf_, CursorKey(name));
  AddHeadDelete(wb, head, new_head);
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return Fail(FromRocks("removing consumer", s));
  wal_dirty_ = true;
  RaiseSpanFloor(new_head);
  std::lock_guard lk(state_mu_);
  cursors_.erase(cursors_.find(name));
  index_.TrimBelow(new_head);
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
    new_head = std::min(until, MinCursorLocked(name));
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

Result<std::vector<Record>> SpanQueue::Impl::Read(uint64_t from_seq, size_t max_spans, size_t max_bytes) const {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Fail(Error::Unavailable("span queue is closed"));
  uint64_t lo, hi;
  {
    std::lock_guard lk(state_mu_);
    lo = std::max(from_seq, index_.head_seq());
    hi = index_.next_seq();
  }
  std::vector<Record> out;
  if (lo >= hi || max_spans == 0) return out;
  internal::SeqRangeIterator it(spans_store_, spans_cf_, lo, hi);
  size_t bytes = 0;
  for (it->SeekToFirst(); it->Valid() && out.size() < max_spans; it->Next()) {
    auto seq = DecodeSeq(it->key());
    int64_t received_ns = 0;
    std::string_view json;
    if (!seq || !DecodeSpanValue(it->value(), &received_ns, &json)) {
      // Skipped, not an error: one bad record must not wedge a consumer (its
      // ack covers the seq like any other).
      LOG_ERROR("span store: unreadable span skipped", {{"seq", seq.value_or(0)}});
      continue;
    }
    if (!out.empty() && bytes + json.size() > max_bytes) break;
    bytes += json.size();
    out.push_back({*seq, received_ns, std::string(json)});
  }
  if (!it->status().ok()) {
    if (it->status().IsCorruption()) NoteDamage("reading spans: " + it->status().ToString());
    return Fail(FromRocks("read", it->status()));
  }
  return out;
}

Result<RecordBatch> SpanQueue::Impl::ReadBatch(uint64_t from_seq, size_t max_spans, size_t max_bytes) const {
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
  internal::SeqRangeIterator it(spans_store_, spans_cf_, lo, hi, /*full_scan=*/true);
  for (it->SeekToFirst(); it->Valid() && out.entries.size() < max_spans; it->Next()) {
    auto seq = DecodeSeq(it->key());
    int64_t received_ns = 0;
    std::string_view json;
    if (!seq || !DecodeSpanValue(it->value(), &received_ns, &json)) {
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

Result<std::vector<QuarantineEntry>> SpanQueue::Impl::ListQuarantine(size_t limit) const {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Fail(Error::Unavailable("span queue is closed"));
  uint64_t lo, hi;
  {
    std::lock_guard lk(state_mu_);
    hi = next_quarantine_id_;
    lo = quarantine_.front_id().value_or(hi);
  }
  std::vector<QuarantineEntry> out;
  if (lo >= hi || limit == 0) return out;
  internal::SeqRangeIterator it(db_.get(), quarantine_cf_, lo, hi);
  for (it->SeekToLast(); it->Valid() && out.size() < limit; it->Prev()) {
    if (auto id = DecodeSeq(it->key())) out.push_back({*id, it->value().ToString()});
  }
  if (!it->status().ok()) return Fail(FromRocks("listing quarantine", it->status()));
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
  s.quarantined = quarantine_.entries();
  s.dead_letters = dead_letters_.size();
  return s;
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
    return std::unique_ptr<SpanQueue>(new SpanQueue(std::move(impl)));
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
    return std::unique_ptr<SpanQueue>(new SpanQueue(std::move(impl)));
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("span queue: open read-only: ") + e.what()));
  }
}

void SpanQueue::Append(span::Batch batch, bool fsync, std::function<void(const AppendResult&)> done) {
  impl_->Append(std::move(batch), fsync, std::move(done));
}

Result<std::vector<Record>> SpanQueue::Read(uint64_t from_seq, size_t max_spans, size_t max_bytes) const {
  return NoThrow("read", [&] { return impl_->Read(from_seq, max_spans, max_bytes); });
}

Result<RecordBatch> SpanQueue::ReadBatch(uint64_t from_seq, size_t max_spans, size_t max_bytes) const {
  return NoThrow("read", [&] { return impl_->ReadBatch(from_seq, max_spans, max_bytes); });
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

Stats SpanQueue::GetStats() const { return impl_->GetStats(); }
uint64_t SpanQueue::next_seq() const { return impl_->next_seq(); }
std::string SpanQueue::store_id() const { return impl_->store_id(); }

Result<std::vector<QuarantineEntry>> SpanQueue::ListQuarantine(size_t limit) const {
  return NoThrow("listing quarantine", [&] { return impl_->ListQuarantine(limit); });
}

Status SpanQueue::AddDeadLetters(std::vector<DeadLetter> letters) {
  return NoThrow("adding dead letters", [&] { return impl_->AddDeadLetters(std::move(letters)); });
}

Result<std::vector<DeadLetter>> SpanQueue::ListDeadLetters(const DeadLetterFilter& filter, size_t limit) const {
  return NoThrow("listing dead letters", [&] { return impl_->ListDeadLetters(filter, limit); });
}

Result<size_t> SpanQueue::ReplayDeadLetters(const DeadLetterFilter& filter) {
  return NoThrow("replaying dead letters", [&] { return impl_->ReplayDeadLetters(filter); });
}

Result<size_t> SpanQueue::PurgeDeadLetters(const DeadLetterFilter& filter) {
  return NoThrow("purging dead letters", [&] { return impl_->PurgeDeadLetters(filter); });
}

void SpanQueue::Close() { impl_->Close(); }

}  // namespace spanvault::buffer
