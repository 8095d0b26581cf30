// Local retention (Options::retention, local_max_disk_bytes): delivered spans
// stay until too old or too many, undelivered ones never go for it, and the
// stats tell the two apart. Real RocksDB in a temp dir; every wait is on a
// condition.
#include <gtest/gtest.h>

#include <future>
#include <string>

#include "buffer/span_index.h"
#include "buffer/span_queue.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

span::Batch Spans(int n, int64_t received_ns, int size = 40) {
  span::Batch b;
  b.received_ns = received_ns;
  for (int i = 0; i < n; ++i) {
    std::string json = R"({"name":")" + std::string(size, 'x') + R"("})";
    b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
    b.data += json;
  }
  return b;
}

void AppendWait(SpanQueue& q, span::Batch b) {
  std::promise<void> p;
  q.Append(std::move(b), false, [&](const StoreResult& r) {
    EXPECT_TRUE(r.ok);
    p.set_value();
  });
  p.get_future().get();
}

std::unique_ptr<SpanQueue> OpenQueue(const Options& o) {
  auto q = SpanQueue::Open(o);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message);
  return q ? std::move(*q) : nullptr;
}

Options Opts(const testing::TempDir& dir) {
  Options o;
  o.dir = dir.path();
  o.fsync_interval = 1h;
  o.retention = std::chrono::hours(24 * 7);
  return o;
}

TEST(SpanIndexRetention, KeepsYoungDeliveredExtentsWithinBytes) {
  internal::SpanIndex idx;
  for (uint64_t s = 1; s <= 3000; ++s) idx.Add(s, 100, s < 1500 ? 10 : 1000);  // extents of 1024
  // Everything delivered below 2500; cutoff 500: extent [1,1025) is old.
  EXPECT_EQ(idx.RetentionHead(2500, 500, UINT64_MAX), 1025u);
  // Nothing old, but only 150000 bytes may stay: [1,1025) goes (leaves 147500).
  EXPECT_EQ(idx.RetentionHead(2500, 0, 150000), 1025u);
  // Never above what was delivered.
  EXPECT_EQ(idx.RetentionHead(10, 5000, 0), 10u);
  EXPECT_EQ(idx.Below(2500).spans, 2499u);
}

TEST(Retention, OffDeletesOnAckAsBefore) {
  testing::TempDir dir;
  Options o = Opts(dir);
  o.retention = 0ms;
  auto q = OpenQueue(o);
  ASSERT_TRUE(q->AddConsumer("up"));
  AppendWait(*q, Spans(10, NowNanos()));
  ASSERT_TRUE(q->Ack("up", q->next_seq()));
  EXPECT_EQ(q->GetStats().spans, 0u);
  EXPECT_EQ(q->traces(), nullptr);
}

TEST(Retention, KeepsDeliveredSpansAndCountsThemApart) {
  testing::TempDir dir;
  auto q = OpenQueue(Opts(dir));
  ASSERT_TRUE(q->AddConsumer("up"));
  AppendWait(*q, Spans(10, NowNanos()));
  ASSERT_TRUE(q->Ack("up", 6));  // seqs 1..5 delivered
  Stats s = q->GetStats();
  EXPECT_EQ(s.spans, 10u);
  EXPECT_EQ(s.local_spans, 5u);
  EXPECT_EQ(s.pending_spans, 5u);
  EXPECT_EQ(s.head_seq, 1u);
  auto read = q->Read(1, 100, SIZE_MAX);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->size(), 10u);  // still readable
  EXPECT_EQ(*q->ConsumerPosition("up"), 6u);
  // A second consumer starts at the tail, not at the retained spans.
  ASSERT_TRUE(q->AddConsumer("second"));
  EXPECT_EQ(*q->ConsumerPosition("second"), 11u);
  EXPECT_EQ(q->Consumers().size(), 2u);
}

TEST(Retention, DropsDeliveredByAgeNeverUndelivered) {
  testing::TempDir dir;
  Options o = Opts(dir);
  o.retention = 300ms;
  auto q = OpenQueue(o);
  ASSERT_TRUE(q->AddConsumer("up"));
  AppendWait(*q, Spans(5, NowNanos()));
  ASSERT_TRUE(q->Ack("up", 4));  // 1..3 delivered, 4..5 not
  EXPECT_EQ(q->GetStats().spans, 5u);
  // Once older than the retention, the delivered ones go (the writer checks
  // on its own), the undelivered stay.
  ASSERT_TRUE(WaitFor([&] { return q->GetStats().spans == 2; }, 10s));
  Stats s = q->GetStats();
  EXPECT_EQ(s.head_seq, 4u);
  EXPECT_EQ(s.local_spans, 0u);
  EXPECT_EQ(s.pending_spans, 2u);
  EXPECT_EQ(s.local_expired_spans, 3u);
  EXPECT_EQ(s.dropped_spans, 0u);
}

TEST(Retention, LocalMaxBytesDropsOldestFirst) {
  testing::TempDir dir;
  Options o = Opts(dir);
  // Two extents' worth (1024 spans of ~60 bytes each) may stay.
  o.local_max_disk_bytes = 2 * 1024 * 80;
  auto q = OpenQueue(o);
  ASSERT_TRUE(q->AddConsumer("up"));
  for (int i = 0; i < 5; ++i) AppendWait(*q, Spans(1024, NowNanos()));
  ASSERT_TRUE(q->Ack("up", q->next_seq()));
  Stats s = q->GetStats();
  EXPECT_LE(s.local_bytes, o.local_max_disk_bytes);
  EXPECT_GT(s.local_spans, 0u);
  EXPECT_GT(s.head_seq, 1u);  // the oldest went
  auto r = q->Read(0, 1, SIZE_MAX);
  ASSERT_TRUE(r && !r->empty());
  EXPECT_EQ(r->front().seq, s.head_seq);
}

TEST(Retention, RejectModeMakesRoomFromDeliveredSpansOnly) {
  testing::TempDir dir;
  Options o = Opts(dir);
  o.on_full = OnFull::kReject;
  o.max_disk_bytes = 3000 * 68;  // 3000 spans of 51 bytes of JSON + 17
  o.disk_reserve_bytes = 0;
  auto q = OpenQueue(o);
  ASSERT_TRUE(q->AddConsumer("up"));
  for (int i = 0; i < 3; ++i) AppendWait(*q, Spans(1000, NowNanos()));
  // Full of undelivered spans: refused.
  std::promise<StoreResult> p1;
  q->Append(Spans(500, NowNanos()), false, [&](const StoreResult& r) { p1.set_value(r); });
  EXPECT_EQ(p1.get_future().get().stored, 0u);
  // Delivered (and kept by retention): they make room for new ones.
  ASSERT_TRUE(q->Ack("up", q->next_seq()));
  EXPECT_EQ(q->GetStats().local_spans, 3000u);
  std::promise<StoreResult> p2;
  q->Append(Spans(500, NowNanos()), false, [&](const StoreResult& r) { p2.set_value(r); });
  EXPECT_EQ(p2.get_future().get().stored, 500u);
  EXPECT_EQ(q->GetStats().pending_spans, 500u);
}

TEST(Retention, LastConsumerRemovedKeepsDeliveredOutOfANewOne) {
  testing::TempDir dir;
  {
    auto q = OpenQueue(Opts(dir));
    ASSERT_TRUE(q->AddConsumer("up"));
    AppendWait(*q, Spans(4, NowNanos()));
    ASSERT_TRUE(q->Ack("up", 3));
    ASSERT_TRUE(q->RemoveConsumer("up"));
    EXPECT_EQ(q->GetStats().spans, 4u);
    EXPECT_EQ(q->GetStats().local_spans, 2u);
  }
  auto q = OpenQueue(Opts(dir));
  ASSERT_TRUE(q->AddConsumer("new"));
  // Spans 3 and 4 were never delivered: the new first consumer gets them,
  // not the delivered 1 and 2.
  EXPECT_EQ(*q->ConsumerPosition("new"), 3u);
}

}  // namespace
}  // namespace spanvault::buffer
