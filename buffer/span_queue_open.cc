// Opening, recovery, damage and Close of SpanQueue (contract: span_queue.h;
// on-disk format: store_format.h; locks: span_queue_impl.h).
//
// Open recovers everything with one scan per column family, each starting at
// its persisted floor ("head", "quarantine_head", "dead_letter_head") so
// deleted ranges are never walked: the SpanIndex from the spans database's
// keys, value sizes and received_ns prefixes; from the main database the
// quarantine index (Quarantine), the dead-letter index (DeadLetterStore) and
// the cursors. next_seq is one past the last span, raised to the largest
// cursor and the floor, so seqs never go backwards even when the store was
// emptied.
//
// Damage RocksDB reports (at DB::Open, during that scan, or later in a read)
// moves the damaged part aside to "<dir>.corrupt-<unix seconds>" (the spans
// database alone when the main one still opens, else the whole store) and a
// fresh one is used: a damaged store must not keep the daemon down.
//
// Close stops the threads in order (the worker, whose queued calls still
// run; the writer, which commits what is queued; the store thread), syncs the
// WALs and closes both databases.
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
#include "buffer/span_queue.h"
#include "buffer/span_queue_impl.h"
#include "buffer/store_format.h"
#include "common/log.h"
#include "common/util.h"

namespace spanvault::buffer {
namespace {

namespace fs = std::filesystem;
using internal::DecodeSeq;
using internal::DecodeSpanValue;
using internal::FromRocks;
using internal::kCursorEnd;
using internal::kCursorPrefix;
using internal::kHeadKey;
using internal::kQuarantineHeadKey;

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
    if (ec)
      return Fail(Error::Io("cannot move the damaged spans database " + spans.string() + " aside: " + ec.message()));
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
  delivered_ = get_u64(internal::kDeliveredKey).value_or(0);
  if (auto st = quarantine_.RecoverLocked(quarantine_floor); !st) return st;
  return dead_letters_.RecoverLocked(std::max<uint64_t>(get_u64(internal::kDeadLetterHeadKey).value_or(1), 1));
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
      return Fail(
          Error::Io("cannot move the spans of " + options_.dir.string() + " into their own database: " + s.ToString()));
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
  if (writer_.joinable() && std::this_thread::get_id() == writer_.get_id()) {
    // From a `done` callback: the writer cannot join itself. It stops after
    // this group; a Close() on another thread (or the destructor) finishes.
    LOG_WARN("span queue: Close() called from an append callback; finishing later");
    return;
  }
  // The trace index first: it reads the spans through the queue.
  if (traces_) {
    traces_ptr_ = nullptr;
    traces_->Close();
  }
  // The worker next: what it has queued still runs on the open store.
  if (!StopWorker()) {
    LOG_WARN("span queue: Close() called from a callback of an asynchronous call; finishing later");
    return;
  }
  if (writer_.joinable()) writer_.join();
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

}  // namespace spanvault::buffer
