#include "daemon/query_pool.h"

#include <pthread.h>

#include "common/log.h"

namespace spanvault::daemon {

QueryPool::QueryPool(unsigned threads, size_t max_queued) : max_queued_(max_queued) {
  for (unsigned i = 0; i < (threads == 0 ? 1 : threads); ++i) threads_.emplace_back([this] { Loop(); });
}

QueryPool::~QueryPool() { Stop(); }

bool QueryPool::Post(Task task) {
  {
    std::lock_guard lk(mu_);
    if (stopped_ || tasks_.size() >= max_queued_) return false;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void QueryPool::PostAlways(Task task) {
  {
    std::lock_guard lk(mu_);
    if (!stopped_) {
      tasks_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task(true);
}

bool QueryPool::stopping() const {
  std::lock_guard lk(mu_);
  return stopped_;
}

void QueryPool::Stop() {
  std::deque<Task> left;
  {
    std::lock_guard lk(mu_);
    if (stopped_ && threads_.empty()) return;
    stopped_ = true;
    left.swap(tasks_);
  }
  cv_.notify_all();
  for (Task& t : left) t(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void QueryPool::Loop() {
  pthread_setname_np(pthread_self(), "sv-query");
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stopped_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopped
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lk.unlock();
    try {
      task(false);
    } catch (const std::exception& e) {
      LOG_ERROR("query task failed", {{"error", e.what()}});
    }
    task = nullptr;
    lk.lock();
  }
}

}  // namespace spanvault::daemon
