// daemon/ — the query threads (`sv-query`): where the local query API's work
// runs (query::Service reads RocksDB; an export blocks while its client
// reads slowly; a replay waits for the upstream), never on an Asio I/O
// thread.
//
// Bounded: at most `max_queued` tasks wait; Post refuses more (the caller
// answers 503). PostAlways (tiny bookkeeping: ending a tail subscription)
// ignores the bound. Stop() sets stopping() — long tasks (replay) poll it
// and give up — runs every queued task with cancelled = true on the calling
// thread, and joins the threads. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace spanvault::daemon {

class QueryPool {
 public:
  using Task = std::function<void(bool cancelled)>;
  explicit QueryPool(unsigned threads = 2, size_t max_queued = 64);
  ~QueryPool();  // Stop()
  QueryPool(const QueryPool&) = delete;
  QueryPool& operator=(const QueryPool&) = delete;

  // Queues `task`; false (task not run) when max_queued wait or stopped.
  bool Post(Task task);
  // Queues `task` whatever the bound; after Stop runs it at once, cancelled.
  void PostAlways(Task task);
  void Stop();
  bool stopping() const;

 private:
  void Loop();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace spanvault::daemon
