// buffer/ — the dead-letter store: spans an upstream refused for good
// (docs/durability.md), each kept with the answer that refused it, for
// `spanvault dead-letter list|replay|purge` and `$dead_letter`.
//
// Where: the main database's "dead_letters" column family (store_format.h),
// ids from 1 up, never reused ("dead_letter_head" is the floor below which
// every id was deleted). Bounded by Options::dead_letter_max_entries and
// dead_letter_max_bytes: beyond them the oldest entries go (counted, logged).
//
// Writes go straight to the main database (not through the writer thread):
// they are rare, and a forwarder must know an entry is in the WAL before it
// acknowledges the span's seq. Add() blocks on that write (fsynced when
// durability is machine); AddAsync() does it on the queue's worker thread,
// for callers on an Asio I/O thread.
//
// Ownership: one per SpanQueue, made and owned by it (SpanQueue::dead_letters());
// it lives as long as the queue.
// Thread-safety: every call from any thread. The in-memory index (id ->
// bytes) is guarded by the queue's state mutex, its writes serialised by the
// queue's write mutex (span_queue_impl.h). Errors: kUnavailable after Close()
// or on an older store opened read-only without the column family,
// kInvalidArgument for writes to a read-only queue, kIo.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "buffer/span_queue.h"
#include "common/error.h"

namespace spanvault::buffer {

// A span an upstream refused for good: kept with the answer.
struct DeadLetter {
  uint64_t id = 0;  // assigned by DeadLetterStore::Add
  std::string upstream;
  int64_t time_ns = 0;   // when it was refused
  uint64_t seq = 0;      // its seq in the span queue
  int status = 0;        // the HTTP status of the refusal
  std::string reason;    // e.g. "HTTP 400 for a batch of one span"
  std::string response;  // the first 4 KiB of the answer's body
  std::string span_json;
  // {"id":..,"time":..,"upstream":..,"seq":..,"status":..,"reason":..,"response":..,"span":{..}}
  std::string ToJson() const;
};

// Which dead letters a list/replay/purge applies to: all of them when both
// are empty; else those with one of `ids` and/or from `upstream`.
struct DeadLetterFilter {
  std::vector<uint64_t> ids;
  std::string upstream;
};

class DeadLetterStore {
 public:
  explicit DeadLetterStore(SpanQueue::Impl& queue) : q_(queue) {}
  DeadLetterStore(const DeadLetterStore&) = delete;
  DeadLetterStore& operator=(const DeadLetterStore&) = delete;

  // Stores `letters` (ids assigned in order) durably — in the WAL, fsynced
  // when durability is machine — before it returns, so the caller may then
  // ack their seqs. Blocks on the disk: not for an Asio I/O thread.
  Status Add(std::vector<DeadLetter> letters);
  // Add() on the queue's worker thread: `done` runs there exactly once (at
  // once on the calling thread with kUnavailable once Close() has begun);
  // see SpanQueue::ReadAsync.
  void AddAsync(std::vector<DeadLetter> letters, std::function<void(Status)> done);
  // Newest first, at most `limit`.
  Result<std::vector<DeadLetter>> List(const DeadLetterFilter& filter, size_t limit) const;
  // Appends the selected spans to the queue again (new seqs: every upstream
  // gets them again; backends deduplicate by span id), and once that is
  // durable deletes them from this store. Returns how many.
  Result<size_t> Replay(const DeadLetterFilter& filter);
  // Deletes the selected entries. Returns how many.
  Result<size_t> Purge(const DeadLetterFilter& filter);

  // In memory: entries now, added since Open, dropped by the bounds since Open.
  uint64_t entries() const;

  // ---- the queue's, holding its state mutex
  // Open: rebuilds the index from the column family, from `floor` on.
  Status RecoverLocked(uint64_t floor);
  uint64_t entries_locked() const { return index_.size(); }
  uint64_t total_locked() const { return total_; }
  uint64_t dropped_locked() const { return dropped_; }

 private:
  Status AddImpl(std::vector<DeadLetter> letters);
  Result<std::vector<DeadLetter>> ListImpl(const DeadLetterFilter& filter, size_t limit) const;
  Result<size_t> PurgeImpl(const DeadLetterFilter& filter);
  Result<size_t> ReplayImpl(const DeadLetterFilter& filter);

  SpanQueue::Impl& q_;
  std::map<uint64_t, uint64_t> index_;  // id -> logical bytes
  uint64_t bytes_ = 0;
  uint64_t next_id_ = 1;
  uint64_t total_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace spanvault::buffer
