// buffer/ — the durable span queue on RocksDB.
//
// Spans are appended with increasing 64-bit sequence numbers and stay until
// every registered consumer (one per upstream) has acknowledged them, or
// until a bound (max_disk_bytes, max_age) drops the oldest ones.
//
//   head_seq                          consumer cursors              next_seq
//      |  acked by some, not all  |c1      |c2    not yet read by any   |
//      v                          v        v                            v
//   [ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ][ s ]
//   ^ everything below head_seq is deleted: moving the persisted "head" deletes it
//
// Two RocksDB databases in options.dir (store_format.h has every byte):
//   the spans database ("<dir>/spans"), one column family:
//     key: seq u64 BE   value: u8 version (1) | i64 received_ns LE | canonical span JSON
//   the main database ("<dir>"), one column family each for
//     quarantine    key: id u64 BE     value: JSON {time, transport, pid, uid, gid, kind, index, reason, excerpt}
//     meta          "cursor/<name>" -> the next seq that consumer reads; "head",
//                   "quarantine_head", "dead_letter_head" -> the floors below which
//                   everything is deleted; "store_id"
//     dead_letters  key: id u64 BE     value: metadata JSON | '\n' | canonical span JSON
// A group commit writes the spans database first, then the main one.
//
// The queue owns two parts with their own classes, reached through it: the
// quarantine (quarantine.h: what ingest refused, written with the spans) and
// the dead-letter store (dead_letters.h: what an upstream refused for good).
//
// Head and tail live in memory (recovered at Open with one scan from each
// floor), and every iterator is bounded with iterate_lower_bound and
// iterate_upper_bound, so deleted heads are never scanned.
//
// Threads, all owned by the queue and joined by Close():
//   writer  every write of spans and quarantine entries (group commit: every
//           batch queued while the previous group was being written goes into
//           the next one — one WAL write for many spans from many connections),
//           the bounds, the repair of a failed store;
//   store   periodic WAL syncs (process durability), dropping table files
//           below the head;
//   worker  the asynchronous calls (ReadAsync, AckAsync,
//           DeadLetterStore::AddAsync), one at a time in call order, so that
//           a caller on an Asio I/O thread never waits for the disk.
// Append() never blocks on I/O except when the pending-bytes bound is reached
// (back-pressure). The synchronous Read(), Ack() and the consumer calls do
// RocksDB I/O on the calling thread: for threads that may block (the CLI,
// salvage, the daemon's control thread, tests), never an Asio I/O thread.
// Getters (GetStats, next_seq, ConsumerPosition, store_id) are in-memory and
// may run on any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "span/batch.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace spanvault::buffer {

enum class Durability {
  kProcess,  // WAL written before any ack; fsync every fsync_interval
  kMachine,  // WAL fsynced before any ack (group commit amortises it)
};
enum class OnFull {
  kDropOldest,  // make room by dropping the oldest spans (counted, logged)
  kReject,      // refuse new spans while full
};

struct Options {
  std::filesystem::path dir;  // the RocksDB directory (created if missing)
  // Default: process
  Durability durability = Durability::kProcess;
  // Default: 1s. How often the WAL is fsynced in process mode.
  std::chrono::milliseconds fsync_interval{1000};
  // Default: 1 GiB. Logical bytes (key + value) of buffered spans.
  uint64_t max_disk_bytes = 1ull << 30;
  // Default: 7 days. Older spans are dropped.
  std::chrono::milliseconds max_age{7LL * 24 * 3600 * 1000};
  // Default: drop oldest
  OnFull on_full = OnFull::kDropOldest;
  // Default: 7 days (config `local.retention`). Local retention: spans stay
  // stored, indexed and readable (query/, docs/api.md) this long after they
  // arrive, also once every upstream acknowledged them. 0: off (no trace
  // index; a span is deleted once every upstream acknowledged it).
  std::chrono::milliseconds retention{7LL * 24 * 3600 * 1000};
  // Default: 1 GiB (config `local.max_disk_bytes`). Bytes of spans kept only
  // for local retention (delivered to every upstream); the oldest are dropped
  // beyond.
  uint64_t local_max_disk_bytes = 1ull << 30;
  // Default: 10000 entries / 64 MiB; the oldest entries are dropped beyond.
  uint64_t quarantine_max_entries = 10000;
  uint64_t quarantine_max_bytes = 64ull << 20;
  // Default: 100000 entries / 256 MiB of dead letters; the oldest are dropped
  // beyond (counted, logged).
  uint64_t dead_letter_max_entries = 100000;
  uint64_t dead_letter_max_bytes = 256ull << 20;
  // Default: 64 MiB, at most 1/8 of the filesystem. Disk space held back in
  // a preallocated file, dir/RESERVE, and released (deleted) when a write
  // or Open fails for want of space, so that opening the store, replaying
  // its WAL, resuming and deleting delivered spans still find room on a full
  // filesystem; made again once the space is back. 0: no reserve. The
  // buffer's bound also keeps this much (and RocksDB's flush headroom) free
  // (docs/durability.md, "A full disk").
  uint64_t disk_reserve_bytes = 64ull << 20;
  // Default: 64 MiB. Bytes queued for the writer; Append blocks beyond it.
  uint64_t max_pending_bytes = 64ull << 20;
  // Default: 4 MiB. The most one group commit (one RocksDB write) takes from
  // the queue in process mode, in whole requests and at least one; the rest
  // go into the next. In machine mode a group takes all that is queued (each
  // group costs an fsync). Groups of all that is queued (up to
  // max_pending_bytes) were ~10% slower with 8 connections and took ~40% more
  // memory: a 64 MiB WriteBatch was built, logged and inserted into a 32 MiB
  // memtable as one piece.
  uint64_t max_group_bytes = 4ull << 20;
  // Default: none. Called on the writer thread after every group commit that
  // stored spans (before the Append callbacks run); must be quick (the
  // forwarders use it to wake up).
  std::function<void()> on_commit;
  // Default: none. Called on the writer thread after damage found while the
  // queue runs (a read or a reopen met corrupt data) made it move the
  // damaged part aside and go on with a fresh one: the path of what was
  // moved aside, for salvage (buffer/salvage.h). Damage found at Open is in
  // Stats::store_recovered_from instead.
  std::function<void(const std::filesystem::path&)> on_moved_aside;
  // Default: nullptr (the default Env). Tests pass an Env whose file system
  // injects I/O errors; not owned, must outlive the queue.
  rocksdb::Env* env = nullptr;
};

// What Append reports (span/batch.h; the listeners get the same struct).
using span::StoreResult;

// Spans read in one go, their JSON back to back in one buffer (one
// allocation per batch instead of one per span).
struct RecordBatch {
  struct Entry {
    uint64_t seq = 0;
    int64_t received_ns = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  // One span of the batch; `json` points into `data`.
  struct Record {
    uint64_t seq = 0;
    int64_t received_ns = 0;
    std::string_view json;
  };
  class Iterator {
   public:
    Iterator(const RecordBatch* b, size_t i) : b_(b), i_(i) {}
    Record operator*() const { return (*b_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const RecordBatch* b_;
    size_t i_;
  };

  std::string data;
  std::vector<Entry> entries;
  std::string_view json(size_t i) const { return {data.data() + entries[i].offset, entries[i].length}; }
  Record operator[](size_t i) const { return {entries[i].seq, entries[i].received_ns, json(i)}; }
  Record front() const { return (*this)[0]; }
  Record back() const { return (*this)[size() - 1]; }
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }
  size_t size() const { return entries.size(); }
  bool empty() const { return entries.empty(); }
};

class Quarantine;       // quarantine.h
class DeadLetterStore;  // dead_letters.h

struct Stats {
  uint64_t spans = 0;              // buffered spans
  uint64_t bytes = 0;              // their logical bytes
  int64_t oldest_received_ns = 0;  // 0 when empty
  uint64_t head_seq = 0;           // first buffered seq
  uint64_t next_seq = 0;           // seq the next span will get
  uint64_t dropped_spans = 0;      // dropped by max_disk_bytes / max_age since Open
  uint64_t dropped_bytes = 0;
  uint64_t refused_full = 0;          // spans refused by on_full = reject since Open
  uint64_t quarantined = 0;           // entries in the quarantine now
  uint64_t quarantined_total = 0;     // entries written since Open
  uint64_t dead_letters = 0;          // entries in the dead-letter store now
  uint64_t dead_letters_total = 0;    // added since Open
  uint64_t dead_letters_dropped = 0;  // dropped by the dead-letter bounds since Open
  uint64_t write_batches = 0;         // RocksDB writes (group commits) since Open
  uint64_t fsyncs = 0;
  uint64_t write_errors = 0;
  std::string store_recovered_from;  // the last damaged store (or spans database) moved aside
  uint64_t stores_moved_aside = 0;   // damaged stores moved aside since Open (at Open included)
  // The store's state: ok, or failed after a write error (disk full, I/O
  // error, read-only filesystem) until a retry (once a second) succeeds.
  // While failed, appends are refused at once; reads and acks go on.
  bool store_ok = true;
  std::string store_error;            // the error that started the failure (empty when ok)
  int64_t store_failed_since_ns = 0;  // wall clock; 0 when ok
  uint64_t store_failures = 0;        // ok -> failed transitions since Open
  // The bound in force: min(max_disk_bytes, what the filesystem can hold for
  // the buffer), re-evaluated about once a second; `bound` says which one.
  uint64_t effective_max_bytes = 0;
  std::string bound = "max_disk_bytes";  // or "filesystem"
  uint64_t disk_free_bytes = 0;          // free on the store's filesystem (for the daemon's user)
  uint64_t disk_reserve_bytes = 0;       // held in the reserve file now
};

class SpanQueue {
 public:
  // Opens or creates the store in options.dir and starts the writer thread.
  // Damage (RocksDB reports corruption at open or in the scan that rebuilds
  // the index) moves the damaged part aside to "<dir>.corrupt-<unix
  // seconds>": the spans database alone (with a HEAD_SEQ file) when the main
  // one still opens, so that cursors, quarantine and dead letters stay, else
  // the whole store. It is logged and reported in Stats::store_recovered_from,
  // and a fresh one is used. The same happens without a restart when a read
  // or a reopen meets damage later (Options::on_moved_aside); seqs never go
  // back and consumers keep their names. Errors: kInvalidArgument for bad
  // options, kIo when the directory cannot be used (e.g. locked by another
  // daemon).
  static Result<std::unique_ptr<SpanQueue>> Open(const Options& options);

  // Opens an existing store for reading only while another process may hold it
  // (RocksDB secondary instance). Append/Ack are not allowed on it.
  static Result<std::unique_ptr<SpanQueue>> OpenReadOnly(const std::filesystem::path& dir);

  ~SpanQueue();  // Close()
  SpanQueue(const SpanQueue&) = delete;
  SpanQueue& operator=(const SpanQueue&) = delete;

  // Queues the batch's spans and quarantine entries for the next group
  // commit. `done` runs exactly once, on the writer thread, after the batch is
  // in the WAL (and fsynced when `fsync` is true or durability is machine).
  // Callbacks run in Append order. An empty batch with fsync=true is a barrier:
  // it completes after everything queued before it is durable and fsynced.
  // After Close(), `done` runs at once with ok=false.
  void Append(span::Batch batch, bool fsync, std::function<void(const StoreResult&)> done);

  // Reads up to max_spans spans (and at least one, even if larger than
  // max_bytes) with seq >= from_seq, in order, into one buffer. Empty when
  // none. Reads of more than one span read ahead and do not fill the block
  // cache (consumers draining a backlog). Blocks on the disk: not for an
  // Asio I/O thread (use ReadAsync). Errors: kUnavailable after Close, kIo
  // (damage met here is moved aside by the writer, Options::on_moved_aside).
  Result<RecordBatch> Read(uint64_t from_seq, size_t max_spans, size_t max_bytes) const;
  // Read() on the worker thread: `done` runs there exactly once, with the
  // result. Called once Close() has begun, `done` runs at once on the calling
  // thread with kUnavailable. `done` must not block for long (it holds up
  // the other asynchronous calls) and must not call Close().
  using ReadDone = std::function<void(Result<RecordBatch>)>;
  void ReadAsync(uint64_t from_seq, size_t max_spans, size_t max_bytes, ReadDone done);

  // Consumers (one per upstream). A new consumer starts at next_seq (it gets
  // spans appended from now on), except when there is no consumer at all:
  // then it starts at the oldest buffered span, so that spans kept while no
  // upstream was configured are delivered. Registered consumers are
  // persisted.
  Status AddConsumer(std::string_view name);
  Status RemoveConsumer(std::string_view name);
  std::vector<std::string> Consumers() const;
  // The seq the consumer reads from next (its acknowledged seq + 1).
  Result<uint64_t> ConsumerPosition(std::string_view name) const;
  // Marks every seq < `until` as acknowledged by `name` (persisted). Spans
  // every consumer has acknowledged are deleted with one DeleteRange. With no
  // consumers registered, nothing is deleted except by the bounds. While
  // the store is failed (Stats::store_ok) the ack is kept in memory and
  // written once the store is writable again (a crash before that means
  // redelivery, never loss), so delivery goes on.
  Status Ack(std::string_view name, uint64_t until);
  // Ack() on the worker thread; `done` as for ReadAsync.
  using StatusDone = std::function<void(Status)>;
  void AckAsync(std::string_view name, uint64_t until, StatusDone done);

  Stats GetStats() const;
  // The seq the next span will get: everything below it may be read. Cheap.
  uint64_t next_seq() const;
  // A random id made when the store was created (16 hex digits), stable for
  // its life: with a seq range it names a batch uniquely across daemons.
  std::string store_id() const;

  // The quarantine and the dead-letter store of this queue: owned by it,
  // valid until it is destroyed (their calls fail with kUnavailable after
  // Close()).
  Quarantine& quarantine();
  const Quarantine& quarantine() const;
  DeadLetterStore& dead_letters();
  const DeadLetterStore& dead_letters() const;

  // Runs the asynchronous calls already queued (their callbacks see the
  // store still open) and stops the worker; commits everything queued for
  // the writer, fsyncs the WAL, stops the writer and the store thread and
  // closes the store. Idempotent. Not from a callback of the queue.
  void Close();

 private:
  friend class Quarantine;
  friend class DeadLetterStore;
  struct Impl;
  explicit SpanQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spanvault::buffer
