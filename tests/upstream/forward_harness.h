// Shared by the forwarding tests: a real span queue (RocksDB in a temp dir),
// an io_context with two threads and forwarders woken by the queue's
// commits, as the daemon wires them.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <future>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "buffer/span_queue.h"
#include "common/util.h"
#include "tests/test_util.h"
#include "upstream/forwarder.h"

namespace spanvault::upstream::testing_harness {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A span queue, an io_context with two threads, and forwarders woken by the
// queue's commits, as the daemon wires them.
class Harness {
 public:
  explicit Harness(buffer::Options options = {}) {
    if (options.dir.empty()) options.dir = dir_.path() / "buffer";
    options.on_commit = [this] {
      std::shared_lock lk(mu_);
      for (auto& f : forwarders_) f->Notify();
    };
    auto q = buffer::SpanQueue::Open(options);
    if (!q) throw std::runtime_error(q.error().message);
    queue_ = std::move(*q);
    work_.emplace(ioc_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    for (auto& t : threads_) io_thread_ids_.push_back(t.get_id());
  }
  ~Harness() {
    StopAll(0ms);
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  buffer::SpanQueue& queue() { return *queue_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The io_context's threads (the forwarders' Asio threads).
  const std::vector<std::thread::id>& io_thread_ids() const { return io_thread_ids_; }

  // Registers the consumer (if new) and starts a forwarder for `config`.
  Forwarder& Add(const UpstreamConfig& config) {
    auto consumers = queue_->Consumers();
    if (std::find(consumers.begin(), consumers.end(), config.name) == consumers.end()) {
      EXPECT_TRUE(queue_->AddConsumer(config.name));
    }
    auto f = Forwarder::Create(ioc_, *queue_, config);
    if (!f) throw std::runtime_error(f.error().message);
    Forwarder& ref = **f;
    {
      std::unique_lock lk(mu_);
      forwarders_.push_back(std::move(*f));
    }
    ref.Start();
    return ref;
  }

  void StopAll(std::chrono::milliseconds grace) {
    std::vector<std::unique_ptr<Forwarder>> fs;
    {
      std::unique_lock lk(mu_);
      fs.swap(forwarders_);
    }
    for (auto& f : fs) f->Stop(grace);
  }

  // Appends n spans with ids "<prefix>-<i>" and waits until they are durable.
  std::vector<std::string> Append(size_t n, const std::string& prefix = "s", size_t pad = 200) {
    span::Batch b;
    b.received_ns = NowNanos();
    std::vector<std::string> ids;
    for (size_t i = 0; i < n; ++i) {
      std::string id = prefix + "-" + std::to_string(i);
      std::string json =
          R"({"span_id":")" + id + R"(","trace_id":"t","name":"llm.call","input":")" + std::string(pad, 'x') + R"("})";
      b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
      b.data += json;
      ids.push_back(id);
    }
    std::promise<buffer::StoreResult> done;
    queue_->Append(std::move(b), true, [&](const buffer::StoreResult& r) { done.set_value(r); });
    auto r = done.get_future().get();
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.stored, n);
    return ids;
  }

  // Appends canonical spans as given and waits until they are durable.
  void AppendJson(const std::vector<std::string>& spans) {
    span::Batch b;
    b.received_ns = NowNanos();
    for (const std::string& json : spans) {
      b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
      b.data += json;
    }
    std::promise<buffer::StoreResult> done;
    queue_->Append(std::move(b), true, [&](const buffer::StoreResult& r) { done.set_value(r); });
    auto r = done.get_future().get();
    EXPECT_TRUE(r.ok) << r.error;
  }

 private:
  testing::TempDir dir_;
  std::unique_ptr<buffer::SpanQueue> queue_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> io_thread_ids_;
  std::shared_mutex mu_;
  std::vector<std::unique_ptr<Forwarder>> forwarders_;
};

using spanvault::testing::WaitFor;  // tests/test_util.h

}  // namespace spanvault::upstream::testing_harness
