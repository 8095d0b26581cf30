// buffer/ internal — SpanQueue's state, shared by the files that implement it:
//   span_queue_open.cc    opening, recovery, damage moved aside, Close
//   span_queue.cc         consumers and acks, reads, the worker thread, the public calls
//   span_queue_writer.cc  the writer thread: Append, group commit, the bounds
//   span_queue_store.cc   the store's health (failed writes, a full disk, the
//                         reserve) and the store thread (WAL syncs, table-file drops)
//   quarantine.cc, dead_letters.cc  the two parts of the main database with classes of their own
//
// Threads (all started at Open and joined by Close): the writer, the store
// thread and the worker (the asynchronous calls, one at a time in call
// order). Close stops the worker first (running what was queued), then the
// writer, then the store thread.
//
// Locks, always taken in this order (never the other way round):
//   write_mu_  serialises every RocksDB write that moves the head or changes
//              the index: the group commit, max_age drops, Ack, AddConsumer,
//              RemoveConsumer, the dead-letter writes. It is the only lock
//              held across a RocksDB write, so an Ack waits at most for one
//              group commit, and a plan made under it (what to delete, which
//              seqs to hand out) stays true until it is applied. Never held
//              while `done` callbacks run, so a callback may Ack.
//   state_mu_  the index, cursors, counters, and the in-memory indexes of the
//              Quarantine and the DeadLetterStore. Held only for in-memory
//              work, never across I/O; readers and getters take only this one
//              (and db_mu_).
//   queue_mu_  the pending requests. Independent: never held with the others.
//   bg_mu_     the store thread's wake-ups. Independent: never held with the
//              others.
//   worker_mu_ the worker's task queue. Independent: never held with the
//              others (tasks run without it).
//   db_mu_     shared by every public call that uses the DB, exclusive in
//              Close() while the DB is destroyed. Taken before write_mu_.
// Read() never goes past the in-memory next_seq, which the writer raises only
// after the WriteBatch is in the WAL: a consumer never sees a span before its
// Append completed.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "buffer/dead_letters.h"
#include "buffer/quarantine.h"
#include "buffer/span_index.h"
#include "buffer/span_queue.h"
#include "buffer/trace_index.h"
#include "common/log_limiter.h"

namespace spanvault::buffer {

class SpanQueue::Impl {
 public:
  Impl(Options options, bool read_only);
  ~Impl();  // Close()

  Status OpenPrimary();    // Open(): create/recover, move a corrupt store aside
  Status OpenSecondary();  // OpenReadOnly()
  Status StartWriter();    // and the store thread
  Status StartWorker();

  void Append(span::Batch batch, bool fsync, std::function<void(const StoreResult&)> done);
  Result<RecordBatch> Read(uint64_t from_seq, size_t max_spans, size_t max_bytes) const;
  Status AddConsumer(std::string_view name);
  Status RemoveConsumer(std::string_view name);
  std::vector<std::string> Consumers() const;
  Result<uint64_t> ConsumerPosition(std::string_view name) const;
  Status Ack(std::string_view name, uint64_t until);
  Stats GetStats() const;
  uint64_t next_seq() const;
  std::string store_id() const { return store_id_; }
  void Close();

  // The worker: queues `task` to run on it. False once Close() has begun
  // (nothing queued): the caller answers its callback with kUnavailable.
  bool Post(std::function<void()> task);

  Result<RecordBatch> ReadSeqs(const std::vector<uint64_t>& seqs, size_t max_bytes) const;
  // Open(): starts the trace index when retention is on (after the writer).
  Status StartTraceIndex(SpanQueue& queue);
  TraceIndex* traces() const { return traces_ptr_.load(); }

  Quarantine& quarantine() { return quarantine_; }
  DeadLetterStore& dead_letters() { return dead_letters_; }

 private:
  friend class Quarantine;
  friend class DeadLetterStore;

  using Clock = std::chrono::steady_clock;
  struct Request {
    span::Batch batch;
    bool fsync = false;
    std::function<void(const StoreResult&)> done;
  };

  // span_queue.cc
  void WorkerLoop();
  // Close(): runs what is queued, then joins the worker. False when called
  // on the worker itself (it cannot join itself).
  bool StopWorker();

  // span_queue_open.cc
  rocksdb::Status OpenDb();  // both databases
  void CloseDb();
  // Open, primary: moves an older store's spans into the spans database.
  rocksdb::Status MigrateSpans();
  // The directories whose WAL files SyncWalFiles keeps synced.
  std::vector<std::filesystem::path> WalDirs() const;
  Status MoveAside(const rocksdb::Status& why);
  // With both databases closed: moves the damaged part aside (the spans
  // database alone when the main one then opens and recovers, else the
  // whole store), opens fresh and recovers. Seqs continue at or past
  // `next_seq`; `consumers` keep a cursor there when the main database was
  // replaced too. Holding db_mu_ and write_mu_ (or in Open).
  Status ReplaceDamaged(const std::string& why, uint64_t next_seq, const std::vector<std::string>& consumers);
  // Any thread, holding db_mu_: a read met damage in the databases opened
  // now; the writer replaces the damaged part next.
  void NoteDamage(const std::string& why) const;
  // Writer thread: ReplaceDamaged after NoteDamage, then on_moved_aside.
  void ReplaceIfDamaged();
  Status Recover();

  // span_queue.cc
  Status CheckWritable() const;
  // Adds the new head to `wb` when it moves: every span below it is then
  // deleted, lazily (store_format.h), with no tombstone.
  void AddHeadDelete(rocksdb::WriteBatch& wb, uint64_t head, uint64_t new_head);
  // After the head it names is written: the compaction filter's floor.
  void RaiseSpanFloor(uint64_t head);
  // After `trimmed` more logical bytes went below `head`: every 64 MiB, have
  // the store thread drop the SST files that lie wholly below it (a MANIFEST
  // write and an unlink per file, which a discard-mounted disk makes slow: not
  // on the writer thread, nor on a forwarder's Ack). Takes bg_mu_ only.
  void ReclaimBelow(uint64_t head, uint64_t trimmed);
  uint64_t MinCursorLocked(std::string_view except) const;
  // Local retention (Options::retention), holding state_mu_: the head that
  // keeps what retention keeps of the delivered seqs below `delivered_until`
  // (that seq itself when retention is off).
  uint64_t RetentionHeadLocked(uint64_t delivered_until) const;
  // Every seq below it is delivered: the slowest cursor, or with no
  // consumer the last one's (delivered_). Holding state_mu_.
  uint64_t DeliveredLocked() const;
  bool retention_on() const { return options_.retention.count() > 0; }

  // span_queue_writer.cc
  void WriterLoop();
  void CommitGroup(std::vector<Request>& group);
  void CommitGroupLocked(std::vector<Request>& group, std::vector<StoreResult>& results);
  // Writer thread: group_batch_, cleared, with room for a group of that size.
  rocksdb::WriteBatch& GroupBatch(uint64_t span_bytes, const std::vector<uint64_t>& q_bytes);
  void CheckAge();
  // Lets go of delivered spans older than the retention or beyond
  // local_max_disk_bytes (span_queue.cc). Writer thread, with CheckAge.
  void CheckRetention();
  void NoteDropped(std::string_view reason, uint64_t spans, uint64_t bytes);
  void TrimIfIdle();

  // span_queue_store.cc
  // Close(), after both threads stopped: RocksDB's own SyncWAL if anything
  // was written since the last sync.
  void FinalSync();
  // The store thread: every fsync_interval, SyncWalFiles() if anything was
  // written since the last sync; and the table-file drops ReclaimBelow asks for.
  void StoreLoop();
  // fdatasync every WAL file that grew since its last sync, through a
  // descriptor of our own: RocksDB's SyncWAL() from a second thread could
  // meet a WAL append that just failed, and Debian's RocksDB asserts (aborts)
  // on syncing a file with a failed write. Writes go on meanwhile: the writer
  // never waits for a periodic sync.
  void SyncWalFiles();
  // Writer thread: OK when the store may be written; after a failed write, an
  // error at once (no RocksDB call) until RepairIfFailed() succeeds.
  rocksdb::Status RecoverIfFailed();
  // Writer thread, holding no lock: after a failed write, at most once a
  // second, Resume() or else close and reopen the store.
  void RepairIfFailed();

  // span_queue_store.cc, "A full disk" (docs/durability.md).
  // Writer thread (and Open): a write failed. The first failure of an
  // episode logs, marks the store failed and, when the disk is full,
  // releases the reserve; later ones are counted and logged at most every
  // kFailureLogInterval.
  void NoteStoreError(std::string_view what, const rocksdb::Status& s);
  // Writer thread: the store is writable again; logs how long it was not.
  void NoteStoreRecovered(std::string_view how);
  // Writer thread, store ok: writes the cursors and head that Ack could
  // only keep in memory while the store was failed.
  void PersistPendingAcks();
  // Every cursor and the head, from memory, in one write. Writer thread.
  rocksdb::Status WriteCursors();
  // After Resume() or a reopen: a write to each database, which must succeed
  // before the store counts as writable again.
  rocksdb::Status ProbeWrites();
  // statvfs of the store's filesystem (the nearest existing ancestor of dir).
  struct FsSpace {
    uint64_t total = 0, free = 0;
    bool ok = false;
  };
  FsSpace StatFs() const;
  // The bound in force now, from max_disk_bytes, free space, the reserve and
  // the flush headroom. Writer thread (and Open), at most once a second
  // unless `force`.
  void UpdateDiskBudget(bool force);
  // The reserve file: made (when there is room for it and the store is ok)
  // or released. Writer thread and Open.
  void EnsureReserve(const FsSpace& fs);
  void ReleaseReserve(std::string_view why);

  const Options options_;
  const bool read_only_;
  std::filesystem::path secondary_dir_;  // OpenReadOnly's scratch dir, removed at Close

  mutable std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;  // the main database (store_format.h)
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> spans_db_;  // the spans database
  // Where the spans are read and written: spans_db_'s default column family;
  // in a read-only view of a store from before the split, the "spans"
  // column family of db_ (then spans_db_ is null).
  rocksdb::DB* spans_store_ = nullptr;
  rocksdb::ColumnFamilyHandle* spans_cf_ = nullptr;
  // An older store's spans column family in db_, until MigrateSpans drops it.
  rocksdb::ColumnFamilyHandle* legacy_spans_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* quarantine_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* dead_letter_cf_ = nullptr;  // null in a read-only view of an older store
  // The persisted head, for the spans column family's compaction filter
  // (store_format.h); 0 (no filtering) in a read-only view.
  std::shared_ptr<std::atomic<uint64_t>> span_floor_ = std::make_shared<std::atomic<uint64_t>>(0);

  // Damage a read or a reopen met (NoteDamage), for the writer to handle.
  mutable std::atomic<bool> damaged_{false};
  mutable std::mutex damage_mu_;
  mutable std::string damage_error_;  // guarded by damage_mu_
  // Which opening of the databases the damage was met in (guarded by
  // damage_mu_): a read that met it in databases replaced since (two reads
  // in flight) must not have the fresh ones moved aside.
  mutable uint64_t damage_generation_ = 0;
  uint64_t generation_ = 0;  // +1 at every OpenDb; under db_mu_ (exclusive to write)

  mutable std::mutex queue_mu_;
  mutable std::condition_variable queue_cv_;  // the writer waits for requests
  std::condition_variable space_cv_;          // Append waits for room
  std::deque<Request> queue_;
  uint64_t pending_bytes_ = 0;
  bool closing_ = false;
  std::thread writer_;
  std::thread::id writer_id_;

  std::mutex write_mu_;

  mutable std::mutex state_mu_;
  internal::SpanIndex index_;
  std::map<std::string, uint64_t, std::less<>> cursors_;
  // With no consumer: every seq below it was delivered by the last one (meta
  // "delivered", written when the last consumer is removed), so that local
  // retention keeps it and a new first consumer does not get it again.
  uint64_t delivered_ = 0;
  std::string store_id_;  // set at Open, constant after
  // Bytes deleted from the head since SST files were last dropped (Ack).
  std::atomic<uint64_t> trimmed_since_reclaim_{0};
  Stats counters_;                       // the counters only; GetStats() derives the rest
  Quarantine quarantine_{*this};         // its index under state_mu_
  DeadLetterStore dead_letters_{*this};  // its index under state_mu_

  // The worker thread and its tasks (worker_mu_).
  std::thread worker_;
  std::mutex worker_mu_;
  std::condition_variable worker_cv_;
  std::deque<std::function<void()>> tasks_;
  bool worker_stop_ = false;

  std::atomic<bool> wal_dirty_{false};  // written since the last WAL sync

  // The trace index (retention on): set once at Open, stopped first in
  // Close(); the writer notifies it after every commit.
  std::unique_ptr<TraceIndex> traces_;
  std::atomic<TraceIndex*> traces_ptr_{nullptr};

  // The store thread.
  std::thread store_thread_;
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;
  uint64_t reclaim_head_ = 0;    // drop table files below this head...
  uint64_t reclaimed_head_ = 0;  // ...once it is above this one
  // The store thread's own: each WAL file's size at its last sync, by path.
  std::map<std::string, uint64_t> wal_synced_size_;
  std::mutex close_mu_;
  bool closed_ = false;

  // Written by the writer thread only (read by the store thread): the store
  // failed a write and has not recovered yet.
  std::atomic<bool> store_failed_{false};
  Clock::time_point last_repair_{};
  std::string last_store_error_;
  Clock::time_point next_age_check_ = Clock::now();
  Clock::time_point last_commit_ = Clock::now();
  uint64_t appended_since_trim_ = 0;
  // The group commit's WriteBatch, kept between groups so that its buffer is
  // sized once for a group instead of growing (copying, and faulting in fresh
  // pages) while every group is built; reset by TrimIfIdle.
  rocksdb::WriteBatch group_batch_;
  size_t group_batch_reserved_ = 0;
  // Filesystem-derived sizes, fixed at Open: the memtable size (32 MiB, less
  // on a small filesystem: a WAL file preallocates 1.1x it), the headroom
  // RocksDB needs to flush and compact, the reserve's size.
  uint64_t write_buffer_bytes_ = 32ull << 20;
  uint64_t flush_headroom_ = 64ull << 20;
  uint64_t reserve_target_ = 0;
  uint64_t reserve_held_ = 0;  // writer thread (and Open)
  Clock::time_point next_budget_check_{};
  // The bound in force (writer thread writes, Ack's reclaim reads).
  std::atomic<uint64_t> effective_max_bytes_{0};
  // Delivered bytes after which table files below the head are dropped.
  std::atomic<uint64_t> reclaim_bytes_{64ull << 20};
  Clock::time_point failed_since_{};
  uint64_t failure_episode_ = 0;
  LogLimiter failure_log_{std::chrono::seconds(30)};
  LogLimiter sync_log_{std::chrono::seconds(30)};
  // Ack ran while the store was failed: its cursor and the head are in
  // memory only until the writer persists them.
  std::atomic<bool> acks_unpersisted_{false};
  Clock::time_point last_drop_log_{};
  uint64_t unlogged_drop_spans_ = 0;
  uint64_t unlogged_drop_bytes_ = 0;
  std::string unlogged_drop_reasons_;
};

}  // namespace spanvault::buffer
