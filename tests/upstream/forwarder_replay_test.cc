// Forwarder::Replay ($replay, docs/api.md) against a real HTTP backend: the
// spans go through the forwarder's own encoder, client and retry policy; no
// cursor moves, nothing is appended or dead-lettered; the answer comes once,
// with counts, whether the spans were delivered or not.
#include <gtest/gtest.h>

#include <future>

#include "tests/upstream/fake_backend.h"
#include "tests/upstream/forward_harness.h"

namespace spanvault::upstream {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::FakeBackendOptions;
using testing_harness::Harness;
using testing_harness::WaitFor;

UpstreamConfig Config(const FakeBackend& backend) {
  UpstreamConfig c;
  c.name = "fake";
  c.endpoint = backend.url("/v1/spans");
  c.linger = 20ms;
  c.batch_max_spans = 4;  // a replay of 10 spans is 3 requests
  c.retry.initial = 20ms;
  c.retry.max = 100ms;
  c.timeout = 2s;
  return c;
}

// Stored-looking spans with ids "<prefix>-<i>", as ForEachSpan hands them.
buffer::RecordBatch Batch(size_t n, const std::string& prefix) {
  buffer::RecordBatch b;
  for (size_t i = 0; i < n; ++i) {
    std::string json = R"({"span_id":")" + prefix + "-" + std::to_string(i) + R"(","trace_id":"t","name":"llm.call"})";
    b.entries.push_back(
        {1000 + i, NowNanos(), static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
    b.data += json;
  }
  return b;
}

ReplayResult ReplayAndWait(Forwarder& f, buffer::RecordBatch batch) {
  std::promise<ReplayResult> p;
  auto fut = p.get_future();
  f.Replay(std::move(batch), [&p](const ReplayResult& r) { p.set_value(r); });
  EXPECT_EQ(fut.wait_for(30s), std::future_status::ready);
  return fut.get();
}

TEST(ForwarderReplayTest, DeliversThroughTheUpstreamWithoutTouchingTheCursorOrTheStore) {
  FakeBackend backend;
  backend.Start();
  Harness h;
  h.Append(3, "live");
  Forwarder& f = h.Add(Config(backend));
  ASSERT_TRUE(backend.WaitForUniqueSpans(3, 20s));
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().acked_seq == h.queue().next_seq(); }));
  const buffer::Stats before = h.queue().GetStats();
  const uint64_t cursor = *h.queue().ConsumerPosition("fake");
  const size_t requests_before = backend.requests().size();

  ReplayResult r = ReplayAndWait(f, Batch(10, "old"));
  EXPECT_EQ(r.spans, 10u);
  EXPECT_EQ(r.delivered, 10u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.last_error, "");
  auto got = backend.received_span_ids();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got.count("old-" + std::to_string(i)), 1u) << i;
  auto requests = backend.requests();
  ASSERT_EQ(requests.size(), requests_before + 3);  // batch_max_spans = 4
  for (size_t i = requests_before; i < requests.size(); ++i) {
    EXPECT_NE(requests[i].Header("Idempotency-Key").find("-replay"), std::string::npos);
  }
  // Nothing in the store or the cursor moved, and the delivery counters are
  // the forwarding's own.
  const buffer::Stats after = h.queue().GetStats();
  EXPECT_EQ(after.next_seq, before.next_seq);
  EXPECT_EQ(*h.queue().ConsumerPosition("fake"), cursor);
  EXPECT_EQ(f.GetStats().delivered_spans, 3u);
}

TEST(ForwarderReplayTest, ARefusedSpanIsFailedNotDeadLettered) {
  FakeBackendOptions o;
  o.poison_span_ids = {"p-5"};
  FakeBackend backend(o);
  backend.Start();
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  ReplayResult r = ReplayAndWait(f, Batch(10, "p"));
  EXPECT_EQ(r.spans, 10u);
  EXPECT_EQ(r.delivered, 9u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_NE(r.last_error.find("400"), std::string::npos) << r.last_error;
  EXPECT_EQ(backend.received_span_ids().count("p-4"), 1u);
  EXPECT_EQ(h.queue().GetStats().dead_letters, 0u);
}

TEST(ForwarderReplayTest, AnUpstreamThatStaysDownIsAnsweredWithFailures) {
  FakeBackend backend;
  backend.Start();
  backend.SetDown(true);
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  ReplayResult r = ReplayAndWait(f, Batch(6, "d"));
  EXPECT_EQ(r.delivered, 0u);
  EXPECT_EQ(r.failed, 6u);
  EXPECT_NE(r.last_error.find("gave up after"), std::string::npos) << r.last_error;
}

TEST(ForwarderReplayTest, StopAnswersAReplayStillInFlight) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault(testing::FakeStep{503, {{"Retry-After", "1"}}});
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  std::promise<ReplayResult> p;
  auto fut = p.get_future();
  f.Replay(Batch(5, "s"), [&p](const ReplayResult& r) { p.set_value(r); });
  ASSERT_TRUE(backend.WaitForRequests(1, 10s));
  h.StopAll(0ms);
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  ReplayResult r = fut.get();
  EXPECT_EQ(r.delivered, 0u);
  EXPECT_EQ(r.failed, 5u);
}

}  // namespace
}  // namespace spanvault::upstream
