// buffer/ — the trace index of local retention (Options::retention), owned
// by the SpanQueue and reached as queue.traces() (null when retention is
// off).
//
// It indexes the spans already in the spans database (keyed by seq) instead
// of copying them: a third RocksDB database, "<dir>/index", written with the
// WAL disabled (store_format.h, "The index database", has every byte). Its
// "next" key (every seq below it is indexed) is written in the same
// WriteBatch as the entries, so after a crash (memtable lost) or with the
// directory deleted, Open re-indexes the spans from there; Close flushes.
//
// The indexer thread ("sv-index") is woken by the writer after every group
// commit (a notify, nothing else: the writer and ingest never wait for it)
// and once a second; it reads the new spans back from the spans database
// (in batches of up to kReadSpans, from the memtable when it keeps up, so
// falling behind costs no memory), parses each once (ParseSpanFacts) and
// updates the trace's summary (a bounded in-memory cache of the recent ones
// saves reading them back). Every pass also deletes the entries of traces
// whose first seq is below the queue's head (oldest first): delivered and
// expired, or dropped by a bound.
//
// Queries (Summary, Seqs, Scan*) read the index database on the calling
// thread: a thread that may block on the disk. They see what the indexer
// had written, a fraction of a second behind ingest. Thread-safe.
// Subscribers' functions run on the indexer thread and must not block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "buffer/trace_summary.h"
#include "common/error.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace spanvault::buffer {

class SpanQueue;
struct RecordBatch;

class TraceIndex {
 public:
  static constexpr size_t kReadSpans = 2048;
  static constexpr size_t kCacheTraces = 4096;  // per generation (two are kept): a few MiB
  // A batch touches at most kReadSpans traces, so the cache turns over at
  // most once while a batch is built: no summary of it is lost before it
  // is written.
  static_assert(kReadSpans < kCacheTraces);

  // The secondary keys: a trace has one per distinct value of its spans.
  enum class Field : char {
    kService = 'v',
    kSession = 's',
    kUser = 'u',
    kEnvironment = 'e',
    kModel = 'm',
    kType = 't',
    kTag = 'g',
    kError = 'x',  // value empty: a span has status error
  };
  struct Key {
    Field field;
    std::string value;
  };

  // Opens (creating) the index database at `dir` and starts the indexer.
  // `queue` must outlive the index (the queue owns it). kIo when RocksDB
  // cannot open it.
  static Result<std::unique_ptr<TraceIndex>> Open(SpanQueue& queue, const std::filesystem::path& dir);
  ~TraceIndex();  // Close()
  TraceIndex(const TraceIndex&) = delete;
  TraceIndex& operator=(const TraceIndex&) = delete;

  // Any thread, never blocks: new spans are committed.
  void Notify();
  // Stops the indexer and flushes and closes the database. Idempotent.
  void Close();

  // Every span seq below it is indexed (for tests and status).
  uint64_t indexed_next() const { return next_.load(); }
  uint64_t traces() const { return traces_.load(); }  // traces indexed now (approximate)

  // The summary of a trace; nullopt when it has no indexed span.
  Result<std::optional<TraceSummary>> Summary(std::string_view trace_id) const;
  // The seqs of a trace's indexed spans, ascending (at most `max`).
  Result<std::vector<uint64_t>> Seqs(std::string_view trace_id, size_t max) const;
  // Trace ids by first seq: newest first from below `before` (0: the
  // newest), or oldest first from `from` on; through `key` when set. `each`
  // returns false to stop.
  using EachTrace = std::function<bool(uint64_t first_seq, std::string_view trace_id)>;
  Status ScanNewest(const std::optional<Key>& key, uint64_t before, const EachTrace& each) const;
  Status ScanOldest(const std::optional<Key>& key, uint64_t from, const EachTrace& each) const;

  // The live tail (docs/api.md): `fn(kind, json)` with kind "span" or
  // "trace", on the indexer thread; must not block.
  using TailFn = std::function<void(std::string_view kind, std::string_view json)>;
  uint64_t Subscribe(TailFn fn);
  void Unsubscribe(uint64_t id);

 private:
  TraceIndex(SpanQueue& queue, std::unique_ptr<rocksdb::DB> db);
  void Loop();
  // One batch of spans: summaries, keys, "next", in one write. False when
  // there was nothing to index.
  bool IndexSome();
  void IndexBatch(const RecordBatch& batch);
  TraceSummary* Cached(const std::string& trace_id);
  // Deletes the entries of traces whose first seq is below the head.
  void DropBelow(uint64_t head);
  void Publish(std::string_view kind, const std::string& json);
  Status Scan(const std::optional<Key>& key, bool newest, uint64_t bound, const EachTrace& each) const;

  SpanQueue& queue_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<uint64_t> next_{1};
  std::atomic<uint64_t> traces_{0};
  uint64_t dropped_below_ = 0;  // indexer thread

  // Two generations of recent summaries (indexer thread only): a lookup
  // moves an entry to the current one; when it is full it becomes the old
  // one and the older one goes.
  std::unordered_map<std::string, TraceSummary> cache_, old_cache_;

  std::mutex mu_;  // wake-ups and stop
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_ = false;
  std::thread thread_;
  std::mutex close_mu_;

  std::mutex subs_mu_;
  std::map<uint64_t, TailFn> subs_;
  uint64_t next_sub_ = 1;
  std::atomic<size_t> sub_count_{0};
};

}  // namespace spanvault::buffer
