// The asynchronous calls of SpanQueue (ReadAsync, AckAsync): they run on the
// queue's worker thread, in call order, and Close() runs what was queued
// before it returns; later calls are answered at once with kUnavailable.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "buffer/span_queue.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

span::Batch Spans(int n) {
  span::Batch b;
  b.received_ns = NowNanos();
  for (int i = 0; i < n; ++i) {
    std::string json = R"({"name":"s)" + std::to_string(i) + R"("})";
    b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
    b.data += json;
  }
  return b;
}

std::unique_ptr<SpanQueue> OpenWith(const std::filesystem::path& dir, int spans) {
  Options o;
  o.dir = dir;
  auto q = SpanQueue::Open(o);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message);
  if (!q) return nullptr;
  EXPECT_TRUE((*q)->AddConsumer("up"));
  std::promise<StoreResult> p;
  (*q)->Append(Spans(spans), false, [&](const StoreResult& r) { p.set_value(r); });
  EXPECT_TRUE(p.get_future().get().ok);
  return std::move(*q);
}

TEST(SpanQueueAsyncTest, ReadAndAckRunOnTheWorkerThreadInCallOrder) {
  testing::TempDir dir;
  auto q = OpenWith(dir.path(), 10);
  ASSERT_TRUE(q);
  std::mutex mu;
  std::vector<std::string> order;
  std::vector<std::thread::id> threads;
  std::promise<void> all_done;
  q->ReadAsync(1, 4, SIZE_MAX, [&](Result<RecordBatch> r) {
    std::lock_guard lk(mu);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->size(), 4u);
    EXPECT_EQ(r->front().seq, 1u);
    EXPECT_EQ(r->back().json, R"({"name":"s3"})");
    order.push_back("read");
    threads.push_back(std::this_thread::get_id());
  });
  q->AckAsync("up", 5, [&](Status st) {
    std::lock_guard lk(mu);
    EXPECT_TRUE(st);
    order.push_back("ack");
    threads.push_back(std::this_thread::get_id());
  });
  q->ReadAsync(5, 100, SIZE_MAX, [&](Result<RecordBatch> r) {
    {
      std::lock_guard lk(mu);
      EXPECT_TRUE(r.has_value() && r->size() == 6u);
      order.push_back("read");
      threads.push_back(std::this_thread::get_id());
    }
    all_done.set_value();
  });
  all_done.get_future().get();
  std::lock_guard lk(mu);
  EXPECT_EQ(order, (std::vector<std::string>{"read", "ack", "read"}));
  ASSERT_EQ(threads.size(), 3u);
  EXPECT_NE(threads[0], std::this_thread::get_id());
  EXPECT_EQ(threads[0], threads[1]);
  EXPECT_EQ(threads[1], threads[2]);
  EXPECT_EQ(q->ConsumerPosition("up").value_or(0), 5u);
  EXPECT_EQ(q->GetStats().spans, 6u) << "the ack deleted seqs 1-4, which only `up` needed";
}

TEST(SpanQueueAsyncTest, CloseRunsWhatWasQueuedAndLaterCallsFailAtOnce) {
  testing::TempDir dir;
  auto q = OpenWith(dir.path(), 3);
  ASSERT_TRUE(q);
  std::atomic<int> ok_reads{0};
  for (int i = 0; i < 20; ++i) {
    q->ReadAsync(1, 100, SIZE_MAX, [&](Result<RecordBatch> r) {
      if (r && r->size() == 3u) ++ok_reads;
    });
  }
  q->Close();
  EXPECT_EQ(ok_reads.load(), 20) << "queued before Close: run on the open store";

  std::optional<Result<RecordBatch>> read;
  q->ReadAsync(1, 100, SIZE_MAX, [&](Result<RecordBatch> r) { read = std::move(r); });
  ASSERT_TRUE(read.has_value()) << "answered at once, on the calling thread";
  ASSERT_FALSE(*read);
  EXPECT_EQ(read->error().code, Error::Code::kUnavailable);
  std::optional<Status> ack;
  q->AckAsync("up", 2, [&](Status st) { ack = std::move(st); });
  ASSERT_TRUE(ack.has_value());
  ASSERT_FALSE(*ack);
  EXPECT_EQ(ack->error().code, Error::Code::kUnavailable);
}

}  // namespace
}  // namespace spanvault::buffer
