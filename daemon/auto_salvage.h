// daemon/ — the automatic salvage of a damaged store (docs/durability.md).
//
// When SpanQueue::Open finds the store damaged it moves it aside and starts
// a fresh one; the daemon then accepts spans at once, and this puts every
// span still readable in the moved-aside store (buffer/salvage.h) back into
// the live queue on a thread of its own, never blocking ingest. Each batch is
// fsynced before the next is read. The moved-aside store is removed after a
// salvage that found nothing damaged beyond what it could read back, and
// kept otherwise, with SALVAGE-REPORT.txt inside saying what was and was not
// recovered (also when the daemon stopped before the end: salvaging it again
// sends the spans already re-queued once more; backends deduplicate by span
// id).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "buffer/salvage.h"
#include "buffer/span_queue.h"

namespace spanvault::daemon {

// A salvage's result as the $salvage answer and the status show it:
// {"spans", "unreadable", "damaged_wal_records", "duplicates", "delivered",
//  "head", "first_seq", "last_seq", "missing_seqs", "missing": [[a, b]...],
//  "complete", "note"?}
nlohmann::json SalvageResultJson(const buffer::SalvageResult& r);

class AutoSalvage {
 public:
  // Starts salvaging `moved_aside` into `queue`, which must outlive this.
  AutoSalvage(buffer::SpanQueue& queue, std::filesystem::path moved_aside);
  // Stops at the next batch (the rest stays in the moved-aside store) and
  // joins. Call before closing the queue.
  ~AutoSalvage();
  AutoSalvage(const AutoSalvage&) = delete;
  AutoSalvage& operator=(const AutoSalvage&) = delete;

  // {"state": "running"|"done"|"kept"|"failed"|"interrupted", "from": DIR,
  //  "spans": re-queued so far, "note": what could not be read, "seconds"}
  nlohmann::json ToJson() const;
  // True once the thread has finished (any state but running).
  bool finished() const { return finished_.load(); }

 private:
  void Run();
  void Finish(const std::string& state, const std::string& report);

  buffer::SpanQueue& queue_;
  const std::filesystem::path from_;
  const int64_t started_ns_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> spans_{0};
  mutable std::mutex mu_;
  std::string state_ = "running";  // guarded by mu_
  std::string note_;               // guarded by mu_
  int64_t finished_ns_ = 0;        // guarded by mu_
  std::thread thread_;             // last: starts after the rest is set
};

}  // namespace spanvault::daemon
