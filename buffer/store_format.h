// buffer/ internal — the on-disk format of the span store and the RocksDB
// options it is opened with. Only buffer/ includes this.
//
// Two RocksDB databases. The spans live alone in the default column family
// of their own database, in the subdirectory "spans" of the store:
//   spans (default) seq u64       -> 0x01 | received_ns i64 LE | canonical span JSON
// Alone, because RocksDB fsyncs every closed WAL before each flush of a
// database with more than one column family (so that a flushed table file
// is never ahead of another family's lost WAL tail). With the spans sharing
// a database, every WAL reached the disk although its memtable reached a
// table file a fraction of a second later: each span was written twice.
// Now a WAL the store thread has not synced yet (every fsync_interval) is
// usually deleted before its pages are ever written: ~44% fewer bytes
// written at full ingest. Everything else is in the store directory's own
// database, the "main" one, with these column families (every integer in a
// key is big-endian, so byte order is numeric order):
//   quarantine  id u64            -> JSON {time, transport, pid?, uid?, gid?, kind, index?, reason, excerpt}
//                                    (pid/uid/gid/index omitted when unknown; excerpt
//                                    with invalid UTF-8 replaced by U+FFFD)
//   meta        "cursor/<name>"   -> u64: the next seq the consumer reads; every seq
//                                    below it is acknowledged by that consumer
//               "head"            -> u64: every span seq below it is deleted (see below)
//               "quarantine_head" -> u64: every quarantine id below it was deleted
//               "dead_letter_head" -> u64: every dead-letter id below it was deleted
//               "store_id"        -> 16 hex digits, random, written when the store is created
//               "delivered"       -> u64: with no consumer registered, every seq below it was
//                                    delivered by the last one (written when it is removed)
//   dead_letters id u64           -> metadata JSON {time, upstream, seq, status, reason, response}
//                                    | '\n' | the canonical span JSON (neither holds a raw
//                                    newline, so the first one splits them)
// Seqs and ids start at 1. "quarantine_head" is written in the same
// WriteBatch as the DeleteRange it describes, so ids never restart after the
// quarantine empties and recovery scans start past the range tombstones.
// Spans below "head" are deleted lazily, with no tombstone: every read starts
// at the head, the spans column family's compaction filter (SpanFloorFilter)
// drops them at flush and compaction, and whole SST files below the head are
// deleted (DeleteFilesInRange). A tombstone per acknowledgement would make
// the flushed files' key ranges overlap, and RocksDB would then rewrite the
// undelivered spans in every L0 -> L1 compaction: with ingest and delivery
// at full speed that compaction took a quarter of the daemon's CPU. Stores
// written before this have range tombstones below "head"; they are read the
// same way.
// A span batch and what it changes in the main database (quarantine
// entries, "head" when max_disk_bytes drops spans) are two writes, spans
// first: after a crash between them the spans are kept and the drop or the
// quarantine entries of that one group are not (the bound drops again at the
// next commit). Recovery takes next_seq past every cursor and the head, so
// seqs never go back even when the spans database lost a tail that the main
// database had already acknowledged.
// A store written before the split has its spans in a "spans" column family
// of the main database: Open copies them (from the head on) into the spans
// database, flushes it, then drops that column family; a crash before the
// drop only means copying again. A read-only view of such a store reads the
// column family where it is.
// The logical size of a record (what max_disk_bytes and quarantine_max_bytes
// count) is key + value.
//
// The index database ("<dir>/index", trace_index.h; only with local
// retention): one column family, written with the WAL disabled, so that it
// costs no second WAL write per span; after a crash it is re-indexed from
// the spans database. Keys (u64 big-endian as above; `id` is a trace id of
// at most 255 bytes):
//   "mnext"                                 -> u64: every span seq below it is indexed;
//                                              written in the WriteBatch of the entries it covers
//   't' | id                                -> the trace summary: MessagePack array, version 1
//                                              (TraceSummary::Encode, trace_summary.cc)
//   's' | u8 len(id) | id | seq u64         -> "": the trace's spans (seqs in the spans database)
//   'l' | first_seq u64                     -> id: every trace by the seq of its first span
//                                              (newest first = backwards)
//   'f' | field u8 | u16 len(value) | value | first_seq u64
//                                           -> id: the secondary keys, one per distinct value
//                                              of the trace's spans; field is TraceIndex::Field:
//                                              'v' service, 's' session_id, 'u' user_id,
//                                              'e' environment, 'm' model, 't' type, 'g' tag,
//                                              'x' status error (value empty). A session's
//                                              traces are its 'f' 's' keys, oldest first.
// A trace whose first seq falls below the head loses all its keys (oldest
// first); a span of it arriving later starts a new entry.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "span/batch.h"

namespace spanvault::buffer::internal {

inline constexpr char kSpansDbDir[] = "spans";  // the spans database, under the store directory
inline constexpr char kIndexDbDir[] = "index";  // the trace index database (local retention)
inline constexpr char kSpansCf[] = "spans";     // where stores before the split kept them (main database)
inline constexpr char kQuarantineCf[] = "quarantine";
inline constexpr char kMetaCf[] = "meta";
inline constexpr char kDeadLetterCf[] = "dead_letters";
inline constexpr char kDeadLetterHeadKey[] = "dead_letter_head";
inline constexpr char kStoreIdKey[] = "store_id";
inline constexpr char kCursorPrefix[] = "cursor/";
inline constexpr char kCursorEnd[] = "cursor0";  // '/' + 1: the upper bound of the prefix
inline constexpr char kHeadKey[] = "head";
inline constexpr char kQuarantineHeadKey[] = "quarantine_head";
inline constexpr char kDeliveredKey[] = "delivered";
// Not RocksDB's: the preallocated disk reserve in the store directory
// (Options::disk_reserve_bytes), deleted when the filesystem is full.
inline constexpr char kReserveFile[] = "RESERVE";
inline constexpr uint8_t kSpanVersion = 1;
inline constexpr size_t kSpanValueHeader = 9;                    // version + received_ns
inline constexpr uint64_t kSpanOverhead = 8 + kSpanValueHeader;  // key + header: bytes beyond the JSON

std::string SeqKey(uint64_t v);
std::optional<uint64_t> DecodeSeq(const rocksdb::Slice& s);
std::string CursorKey(std::string_view consumer);

// An iterator over the seq keys [lo, hi) of a column family (hi = 0: no upper
// bound), with RocksDB's iterate bounds set so that it never scans outside
// them: deleted heads (range tombstones) stay unseen. `full_scan` is for one
// pass over everything (no block cache fill, readahead).
class SeqRangeIterator {
 public:
  SeqRangeIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t lo, uint64_t hi = 0,
                   bool full_scan = false);
  SeqRangeIterator(const SeqRangeIterator&) = delete;  // the bounds point into this object
  SeqRangeIterator& operator=(const SeqRangeIterator&) = delete;
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  std::string lo_key_, hi_key_;
  rocksdb::Slice lo_, hi_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

void EncodeSpanValue(int64_t received_ns, std::string_view json, std::string& out);
// False when the value is not a version-1 span; `json` may be null.
bool DecodeSpanValue(const rocksdb::Slice& v, int64_t* received_ns, std::string_view* json);

// The quarantine value of one refused payload. `batch_received_ns` stands in
// for an entry without its own receive time (and the clock for a batch
// without one). Never throws.
std::string QuarantineJson(const span::Batch::Quarantined& q, int64_t batch_received_ns);

rocksdb::DBOptions MakeDbOptions();
// RocksDB's info log ("LOG" in a database directory, rolled to "LOG.old.1"
// at 16 MiB) written with plain write(2) whose errors are ignored: RocksDB's
// own logger asserts (aborts Debian's build) on the next line after a write
// that failed, e.g. on a full disk.
std::shared_ptr<rocksdb::Logger> NewStoreInfoLog(const std::string& db_dir);

// True when `s` says the filesystem is full (ENOSPC).
bool IsNoSpace(const rocksdb::Status& s);
// "span store: <what>: <RocksDB's message>", kCorruption or kIo.
Error FromRocks(std::string what, const rocksdb::Status& s);
// Descriptors for the main database: default, quarantine, meta and
// dead_letters (in that order, so the handles come back at indexes 0..3),
// plus any other column family the store at `dir` has (RocksDB refuses to
// open a store without naming all of them), such as an older store's spans.
std::vector<rocksdb::ColumnFamilyDescriptor> Descriptors(const rocksdb::DBOptions& db_options, const std::string& dir);
// The spans database's one column family. `span_floor` (null: no filter, for
// read-only and salvage opens) is the persisted head: the compaction filter
// drops every seq below it when RocksDB writes a table file (flush or
// compaction). It must only ever be raised after the "head" that it copies
// is written.
using SpanFloor = std::shared_ptr<const std::atomic<uint64_t>>;
std::vector<rocksdb::ColumnFamilyDescriptor> SpansDbDescriptors(SpanFloor span_floor);
rocksdb::ColumnFamilyOptions SpansCfOptions(SpanFloor span_floor);

// crc32c_hw.cc: RocksDB's CRC-32C (WAL records) computed with SSE4.2 when the
// CPU has it. Crc32cImplementation() names the one in use ("sse4.2" or
// "rocksdb-portable"); Crc32cExtend is what RocksDB's calls reach;
// Crc32cExtendRocksDb is RocksDB's own software code, for tests.
const char* Crc32cImplementation();
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);
uint32_t Crc32cExtendRocksDb(uint32_t crc, const char* data, size_t n);

}  // namespace spanvault::buffer::internal
