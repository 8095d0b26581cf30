// The span store's health and its own thread (contract: span_queue.h; locks:
// span_queue_impl.h). Split from the writer (span_queue_writer.cc), which
// calls in here between groups:
//  - a failed write is a state: RecoverIfFailed() fails fast while the store
//    is failed, RepairIfFailed() (at most once a second) tries Resume() and
//    else closes and reopens the databases, ProbeWrites() proves it writable;
//  - a full disk (docs/durability.md): the bound follows the filesystem
//    (UpdateDiskBudget), the reserve file, the acks kept in memory meanwhile
//    (PersistPendingAcks);
//  - the store thread (StoreLoop): in process mode an fdatasync of the WAL
//    every fsync_interval through descriptors of our own (SyncWalFiles), and
//    the table-file drops below the head that ReclaimBelow asks for, so that
//    neither stalls ingest behind the disk;
//  - FinalSync() at Close.
// Writer-thread members here run on the writer thread (and at Open); the
// store thread touches only bg_mu_'s state, wal_synced_size_ and the atomics.
#include <fcntl.h>
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

using internal::SeqKey;

// How often the bound is re-evaluated from the filesystem (statvfs).
constexpr auto kBudgetInterval = std::chrono::seconds(1);

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

}  // namespace

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

}  // namespace spanvault::buffer
