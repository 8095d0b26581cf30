// The forwarder against the fake backend: a real span queue (RocksDB in a
// temp dir), real HTTP(S) on 127.0.0.1, outages, retries, splits, poison
// spans, two upstreams, restarts.
#include "upstream/forwarder.h"

#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <boost/asio/executor_work_guard.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <thread>

#include "buffer/dead_letters.h"
#include "common/util.h"
#include "tests/test_util.h"
#include "tests/upstream/fake_backend.h"
#include "tests/upstream/forward_harness.h"
#include "tests/upstream/tls_cert.h"
#include "upstream/pending_times.h"

namespace spanvault::upstream {
namespace {

namespace asio = boost::asio;
using spanvault::testing::CaptureStderr;
using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::FakeBackendOptions;
using testing::FakeStep;
using testing_harness::Harness;
using testing_harness::WaitFor;

UpstreamConfig Config(const FakeBackend& backend, std::string name = "fake") {
  UpstreamConfig c;
  c.name = std::move(name);
  c.endpoint = backend.url("/v1/spans");
  c.linger = 20ms;
  c.batch_max_spans = 100;
  c.retry.initial = 20ms;
  c.retry.max = 200ms;
  c.timeout = 2s;
  return c;
}

void ExpectAllReceived(const FakeBackend& backend, const std::vector<std::string>& ids) {
  auto got = backend.received_span_ids();
  size_t missing = 0;
  for (const auto& id : ids) missing += got.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0u) << "of " << ids.size();
}

TEST(ForwarderTest, DeliversBatchesGzippedWithIdempotencyKeysAndEmptiesTheBuffer) {
  FakeBackend backend;
  backend.Start();
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  auto ids = h.Append(1000);
  ASSERT_TRUE(backend.WaitForUniqueSpans(1000, 20s));
  ExpectAllReceived(backend, ids);
  std::set<std::string> keys;
  for (const auto& r : backend.requests()) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/spans");
    EXPECT_EQ(r.Header("Content-Encoding"), "gzip");
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
    EXPECT_LE(r.span_ids.size(), 100u);
    EXPECT_FALSE(r.Header("Idempotency-Key").empty());
    keys.insert(r.Header("Idempotency-Key"));
  }
  EXPECT_EQ(keys.size(), backend.requests().size()) << "every batch has its own key";
  // Acknowledged by the only consumer: deleted.
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
  EXPECT_EQ(*h.queue().ConsumerPosition("fake"), h.queue().next_seq());
  auto s = f.GetStats();
  EXPECT_EQ(s.delivered_spans, 1000u);
  EXPECT_TRUE(s.healthy);
  EXPECT_EQ(s.pending_spans, 0u);
}

TEST(ForwarderTest, UncompressedWhenGzipIsOff) {
  FakeBackend backend;
  backend.Start();
  Harness h;
  auto c = Config(backend);
  c.gzip = false;
  h.Add(c);
  auto ids = h.Append(10);
  ASSERT_TRUE(backend.WaitForUniqueSpans(10, 20s));
  for (const auto& r : backend.requests()) {
    EXPECT_EQ(r.Header("Content-Encoding"), "");
    EXPECT_EQ(r.raw_body, r.body);
  }
}

TEST(ForwarderTest, BackendDownForAWhileThenUpEverySpanArrives) {
  FakeBackend backend;
  backend.Start();
  backend.SetDown(true);
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  auto ids = h.Append(500);
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().failed_attempts >= 5; }));
  EXPECT_FALSE(f.GetStats().healthy);
  EXPECT_NE(f.GetStats().last_error.find("onnect"), std::string::npos) << f.GetStats().last_error;
  EXPECT_EQ(h.queue().GetStats().spans, 500u) << "nothing may leave while the backend is down";
  EXPECT_EQ(f.GetStats().pending_spans, 500u);
  auto more = h.Append(300, "later");
  backend.SetDown(false);
  ASSERT_TRUE(backend.WaitForUniqueSpans(800, 30s));
  ExpectAllReceived(backend, ids);
  ExpectAllReceived(backend, more);
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().healthy && h.queue().GetStats().spans == 0; }));
}

TEST(ForwarderTest, RetryAfterIsRespected) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.status = 503, .headers = {{"Retry-After", "1"}}}});
  Harness h;
  auto c = Config(backend);
  c.concurrency = 1;
  c.batch_max_spans = 1000;
  h.Add(c);
  auto ids = h.Append(50);
  ASSERT_TRUE(backend.WaitForUniqueSpans(50, 20s));
  auto reqs = backend.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].answered_status, 503);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(reqs[1].arrived - reqs[0].arrived);
  EXPECT_GE(waited.count(), 950) << "Retry-After: 1 must hold the retry back a second";
  // The same batch, the same key, the same bytes.
  EXPECT_EQ(reqs[0].Header("Idempotency-Key"), reqs[1].Header("Idempotency-Key"));
  EXPECT_EQ(reqs[0].raw_body, reqs[1].raw_body);
}

TEST(ForwarderTest, SurvivesThrottlingResetsAndTimeouts) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.status = 429},
                  {.reset = true},
                  {.status = 500},
                  {.delay = 1500ms},  // beyond the 500 ms timeout
                  {.close_without_answer = true},
                  {.status = 502},
                  {.status = 503, .headers = {{"Retry-After", "0"}}},
                  {.status = 408}});
  Harness h;
  auto c = Config(backend);
  c.timeout = 500ms;
  Forwarder& f = h.Add(c);
  auto ids = h.Append(600);
  ASSERT_TRUE(backend.WaitForUniqueSpans(600, 30s));
  ExpectAllReceived(backend, ids);
  auto s = f.GetStats();
  EXPECT_GE(s.failed_attempts, 7u);
  EXPECT_GE(s.retries, 7u);
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
}

TEST(ForwarderTest, SplitsBatchesOn413UntilTheyFit) {
  FakeBackendOptions o;
  o.max_body_bytes = 6000;  // ~20 spans of ~280 bytes
  FakeBackend backend(o);
  backend.Start();
  Harness h;
  auto c = Config(backend);
  Forwarder& f = h.Add(c);
  auto ids = h.Append(400);
  ASSERT_TRUE(backend.WaitForUniqueSpans(400, 30s));
  ExpectAllReceived(backend, ids);
  size_t refused = 0;
  for (const auto& r : backend.requests()) {
    if (r.answered_status == 413) ++refused;
    if (r.answered_status == 200) {
      EXPECT_LE(r.body.size(), 6000u);
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(f.GetStats().splits, 0u);
  EXPECT_EQ(f.GetStats().dead_lettered, 0u);
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
}

TEST(ForwarderTest, PoisonSpanGoesToDeadLettersOthersArriveAndReplayWorks) {
  FakeBackendOptions o;
  o.poison_span_ids = {"s-137"};
  FakeBackend backend(o);
  backend.Start();
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  auto ids = h.Append(300);
  ASSERT_TRUE(backend.WaitForUniqueSpans(299, 30s));
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().dead_lettered == 1; }));
  auto got = backend.received_span_ids();
  EXPECT_EQ(got.count("s-137"), 0u);
  for (const auto& id : ids) {
    if (id != "s-137") {
      EXPECT_EQ(got.count(id), 1u) << id;
    }
  }
  auto dead = h.queue().dead_letters().List({}, 10);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  const buffer::DeadLetter& d = dead->front();
  EXPECT_EQ(d.upstream, "fake");
  EXPECT_EQ(d.status, 400);
  EXPECT_NE(d.span_json.find("\"s-137\""), std::string::npos);
  EXPECT_NE(d.response.find("poison"), std::string::npos) << "the answer's body is kept";
  // The batch is acknowledged: the buffer empties although one span failed.
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));

  // The backend accepts it now (a scripted 200 beats the poison rule).
  backend.Script({{.status = 200}});
  auto replayed = h.queue().dead_letters().Replay({});
  ASSERT_TRUE(replayed) << replayed.error().message;
  EXPECT_EQ(*replayed, 1u);
  ASSERT_TRUE(backend.WaitForUniqueSpans(300, 20s));
  EXPECT_EQ(h.queue().dead_letters().List({}, 10)->size(), 0u);
}

TEST(ForwarderTest, TwoUpstreamsOneDownTheOtherKeepsReceivingAndTheBufferKeepsWhatTheDownOneNeeds) {
  FakeBackend up, down;
  up.Start();
  down.Start();
  down.SetDown(true);
  Harness h;
  Forwarder& fu = h.Add(Config(up, "up"));
  Forwarder& fd = h.Add(Config(down, "down"));
  auto ids = h.Append(700);
  ASSERT_TRUE(up.WaitForUniqueSpans(700, 20s));
  ASSERT_TRUE(WaitFor([&] { return fu.GetStats().pending_spans == 0; }));
  EXPECT_EQ(h.queue().GetStats().spans, 700u) << "\"down\" has not acknowledged them";
  EXPECT_EQ(fd.GetStats().pending_spans, 700u);
  EXPECT_FALSE(fd.GetStats().healthy);
  down.SetDown(false);
  ASSERT_TRUE(down.WaitForUniqueSpans(700, 30s));
  ExpectAllReceived(down, ids);
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
  EXPECT_EQ(up.received_span_ids().size(), 700u);
}

TEST(ForwarderTest, CredentialsRefusedPausesKeepsSpansAndMarksUnhealthy) {
  FakeBackendOptions o;
  o.required_authorization = "Bearer right";
  FakeBackend backend(o);
  backend.Start();
  Harness h;
  auto c = Config(backend);
  c.headers = {{"Authorization", "Bearer wrong"}};
  c.retry.auth_pause = 400ms;
  Forwarder& f = h.Add(c);
  // The last moment the forwarder was seen not paused: the pause began after it.
  auto not_paused_at = std::chrono::steady_clock::now();
  auto ids = h.Append(50);
  ASSERT_TRUE(WaitFor([&] {
    const auto t = std::chrono::steady_clock::now();
    if (f.GetStats().paused) return true;
    not_paused_at = t;
    return false;
  }));
  EXPECT_FALSE(f.GetStats().healthy);
  EXPECT_EQ(f.GetStats().last_error, "HTTP 401");
  EXPECT_EQ(h.queue().GetStats().spans, 50u);
  EXPECT_EQ(f.GetStats().dead_lettered, 0u) << "401 is not the spans' fault";
  // The pause is long: the next attempt comes only after it, at least half of
  // auth_pause later (the other half is jitter), where a retry loop would
  // have made many attempts.
  const size_t before_pause = backend.requests().size();
  ASSERT_TRUE(backend.WaitForRequests(before_pause + 1, 10s));
  EXPECT_GE(std::chrono::steady_clock::now() - not_paused_at, c.retry.auth_pause / 2)
      << "attempted again during the pause";
  EXPECT_LE(backend.requests().size(), 3u);
  // Fixed credentials (a restart with the new config): everything arrives.
  h.StopAll(0ms);
  c.headers = {{"Authorization", "Bearer right"}};
  Forwarder& fixed = h.Add(c);
  ASSERT_TRUE(backend.WaitForUniqueSpans(50, 20s));
  ASSERT_TRUE(WaitFor([&] { return fixed.GetStats().healthy && h.queue().GetStats().spans == 0; }));
}

TEST(ForwarderTest, CursorMovesOnlyOverTheContiguousPrefixOfFinishedBatches) {
  FakeBackend backend;
  backend.Start();
  backend.Script({{.delay = 1500ms}});  // the first batch is slow, the next ones are quick
  Harness h;
  auto c = Config(backend);
  c.batch_max_spans = 10;
  c.concurrency = 4;
  c.timeout = 5s;
  Forwarder& f = h.Add(c);
  const uint64_t start = *h.queue().ConsumerPosition("fake");
  auto ids = h.Append(10);  // batch 1, alone: it gets the slow answer
  ASSERT_TRUE(backend.WaitForRequests(1, 10s));
  auto more = h.Append(30, "more");  // batches 2..4
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().delivered_batches >= 3; }, 10s));
  // Batches 2..4 are delivered, batch 1 is not: the cursor stays put.
  EXPECT_EQ(*h.queue().ConsumerPosition("fake"), start);
  EXPECT_EQ(h.queue().GetStats().spans, 40u);
  ASSERT_TRUE(backend.WaitForUniqueSpans(40, 10s));
  ASSERT_TRUE(WaitFor([&] { return *h.queue().ConsumerPosition("fake") == h.queue().next_seq(); }));
  EXPECT_EQ(h.queue().GetStats().spans, 0u);
}

TEST(ForwarderTest, InFlightBatchesAreSentAgainAfterARestart) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 3000ms});  // nothing completes before the stop
  auto h = std::make_unique<Harness>();
  auto c = Config(backend);
  c.timeout = 10s;
  h->Add(c);
  auto ids = h->Append(200);
  ASSERT_TRUE(backend.WaitForRequests(1, 10s));
  h->StopAll(100ms);  // grace runs out: the requests are cancelled
  EXPECT_EQ(h->queue().GetStats().spans, 200u);
  const uint64_t pos = *h->queue().ConsumerPosition("fake");
  EXPECT_LT(pos, h->queue().next_seq());
  // "Restart": a new forwarder on the same store resumes from the cursor.
  backend.SetDefault({});
  h->Add(c);
  ASSERT_TRUE(backend.WaitForUniqueSpans(200, 20s));
  ExpectAllReceived(backend, ids);
}

TEST(ForwarderTest, ShutdownGraceLetsRequestsInFlightFinish) {
  FakeBackend backend;
  backend.Start();
  backend.SetDefault({.delay = 300ms});
  Harness h;
  auto c = Config(backend);
  c.batch_max_spans = 1000;
  h.Add(c);
  auto ids = h.Append(100);
  ASSERT_TRUE(backend.WaitForRequests(1, 10s));
  h.StopAll(5s);  // the answer comes within the grace: acknowledged
  EXPECT_EQ(backend.unique_spans(), 100u);
  EXPECT_EQ(*h.queue().ConsumerPosition("fake"), h.queue().next_seq());
}

TEST(ForwarderTest, HttpsWithASelfSignedCertificateRefusedByDefaultAcceptedWithTheCaFile) {
  testing::TestCert cert = testing::MakeSelfSignedCert();
  FakeBackendOptions o;
  o.tls = true;
  o.cert_pem = cert.cert_pem;
  o.key_pem = cert.key_pem;
  FakeBackend backend(o);
  backend.Start();
  Harness h;
  auto c = Config(backend, "tls");
  ASSERT_EQ(c.endpoint.rfind("https://", 0), 0u);
  Forwarder& f = h.Add(c);
  auto ids = h.Append(20);
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().failed_attempts >= 2; }));
  EXPECT_EQ(backend.unique_spans(), 0u);
  EXPECT_NE(f.GetStats().last_error.find("certificate"), std::string::npos) << f.GetStats().last_error;
  h.StopAll(0ms);

  std::string ca = (h.dir() / "ca.pem").string();
  std::ofstream(ca) << cert.cert_pem;
  c.tls_ca_file = ca;
  Forwarder& trusted = h.Add(c);
  ASSERT_TRUE(backend.WaitForUniqueSpans(20, 20s));
  ExpectAllReceived(backend, ids);
  ASSERT_TRUE(WaitFor([&] { return trusted.GetStats().healthy; }));
}

TEST(ForwarderTest, TheEndpointIsRedactedInStatusAndLogs) {
  FakeBackend backend;
  backend.Start();
  Harness h;
  auto c = Config(backend);
  c.endpoint = backend.url("/v1/spans?api_key=s3cret-query&tenant=t1");
  std::string log = CaptureStderr([&] {
    Forwarder& f = h.Add(c);
    EXPECT_EQ(f.GetStats().endpoint, backend.url("/v1/spans?api_key=***&tenant=***"));
    auto ids = h.Append(10);
    ASSERT_TRUE(backend.WaitForUniqueSpans(10, 20s));
    // The query still goes to the backend.
    EXPECT_EQ(backend.requests().at(0).target, "/v1/spans?api_key=s3cret-query&tenant=t1");
    h.StopAll(1s);
  });
  EXPECT_EQ(log.find("s3cret"), std::string::npos) << log;
}

TEST(ForwarderTest, CredentialsInClearTextAreWarnedAboutOnce) {
  UpstreamConfig c;
  c.name = "remote";
  c.endpoint = "http://collector.example:4318/v1/spans?key=s3cret";  // never contacted here
  c.headers = {{"Authorization", "Bearer s3cret"}};
  std::string log = CaptureStderr([&] { WarnIfCleartextCredentials(c); });
  auto j = nlohmann::json::parse(log);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["upstream"], "remote");
  EXPECT_EQ(j["endpoint"], "http://collector.example:4318/v1/spans?key=***");
  EXPECT_EQ(j["credentials"], nlohmann::json::array({"Authorization"}));
  EXPECT_EQ(log.find("s3cret"), std::string::npos) << log;
  c.endpoint = "https://collector.example/v1/spans";
  EXPECT_EQ(CaptureStderr([&] { WarnIfCleartextCredentials(c); }), "");
}

TEST(ForwarderTest, CreateRefusesBadSettings) {
  FakeBackend backend;
  backend.Start();
  Harness h;
  auto c = Config(backend);
  c.tls_ca_file = "/nonexistent/ca.pem";
  c.endpoint = "https://127.0.0.1:1/";
  ASSERT_TRUE(h.queue().AddConsumer(c.name));
  asio::io_context ioc;
  auto f = Forwarder::Create(ioc, h.queue(), c);
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("ca.pem"), std::string::npos) << f.error().message;
  c = Config(backend);
  c.headers = {{"Authorization", "Bearer ${SV_FORWARDER_TEST_UNSET}"}};
  auto g = Forwarder::Create(ioc, h.queue(), c);
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("SV_FORWARDER_TEST_UNSET"), std::string::npos);
}

// Appends n spans received at `received_ns` and waits until they are durable.
void AppendReceivedAt(buffer::SpanQueue& q, size_t n, int64_t received_ns, const std::string& prefix) {
  span::Batch b;
  b.received_ns = received_ns;
  for (size_t i = 0; i < n; ++i) {
    std::string json = R"({"span_id":")" + prefix + "-" + std::to_string(i) + R"(","trace_id":"t","name":"llm.call"})";
    b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
    b.data += json;
  }
  std::promise<buffer::StoreResult> done;
  q.Append(std::move(b), true, [&](const buffer::StoreResult& r) { done.set_value(r); });
  auto r = done.get_future().get();
  ASSERT_TRUE(r.ok) << r.error;
}

// oldest_pending_ns is the receive time of the first span the upstream has
// not acknowledged, as a read of that span would give it; GetStats keeps it
// from what the forwarder read and does not read the store for it (it runs
// on the daemon's I/O threads): it still answers once the queue is closed.
TEST(ForwarderTest, OldestPendingIsTheFirstUnacknowledgedSpansReceiveTimeFromMemory) {
  FakeBackend backend;
  backend.Start();
  backend.SetDown(true);
  Harness h;
  const int64_t t0 = NowNanos() - 3600LL * 1000000000;
  AppendReceivedAt(h.queue(), 10, t0, "old");
  AppendReceivedAt(h.queue(), 10, t0 + 60LL * 1000000000, "newer");
  Forwarder& f = h.Add(Config(backend));
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().failed_attempts >= 1; }));
  ForwarderStats s = f.GetStats();
  EXPECT_EQ(s.pending_spans, 20u);
  EXPECT_EQ(s.oldest_pending_ns, t0);
  f.Stop(0ms);
  h.queue().Close();
  EXPECT_EQ(f.GetStats().oldest_pending_ns, t0) << "kept in memory, not read from the (closed) store";
}

TEST(ForwarderTest, OldestPendingIsZeroOnceEverythingIsAcknowledged) {
  FakeBackend backend;
  backend.Start();
  Harness h;
  Forwarder& f = h.Add(Config(backend));
  AppendReceivedAt(h.queue(), 30, NowNanos() - 1000000000, "a");
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
  ForwarderStats s = f.GetStats();
  EXPECT_EQ(s.pending_spans, 0u);
  EXPECT_EQ(s.oldest_pending_ns, 0);
}

// The receive times the forwarder keeps (pending_times.h), case by case.
TEST(PendingTimesTest, OldestIsTheFirstSpanAtOrAboveFrom) {
  using forwarder_internal::PendingTimes;
  auto batch = [](std::vector<std::pair<uint64_t, int64_t>> spans) {
    buffer::RecordBatch b;
    for (auto [seq, ns] : spans) b.entries.push_back({seq, ns, 0, 0});
    return b;
  };
  PendingTimes t;
  EXPECT_EQ(t.Oldest(0), 0) << "nothing known";
  t.SawUnread(10, 20, 500);
  EXPECT_EQ(t.Oldest(10), 500) << "unread: when it was seen";
  t.SawUnread(10, 30, 600);
  EXPECT_EQ(t.Oldest(10), 500) << "the earlier sighting stands";
  // Read [10, 14) with a gap at 12 (dropped by the buffer), then [14, 16).
  t.OnRead(batch({{10, 100}, {11, 90}, {13, 130}}));
  t.OnReadPosition(14);
  t.OnRead(batch({{14, 140}, {15, 150}}));
  t.OnReadPosition(16);
  EXPECT_EQ(t.Oldest(10), 100);
  EXPECT_EQ(t.Oldest(11), 90) << "the first at or above `from`, not the smallest";
  EXPECT_EQ(t.Oldest(12), 130) << "the buffer's head moved into a batch";
  EXPECT_EQ(t.Oldest(15), 150);
  EXPECT_EQ(t.Oldest(16), 500) << "not read yet: the sighting, which covers up to 20";
  t.OnRead(batch({{16, 160}, {17, 170}, {18, 180}, {19, 190}}));
  t.OnReadPosition(20);
  EXPECT_EQ(t.Oldest(20), 0) << "the sighting is answered by the reads";
  t.OnAcked(14);
  EXPECT_EQ(t.Oldest(0), 140) << "acknowledged batches are forgotten";
  t.OnAcked(20);
  EXPECT_EQ(t.Oldest(0), 0);
}

// Records the thread of every write to a RocksDB file (WAL appends and
// syncs, table files), for the test below.
class ThreadRecordingFs : public rocksdb::FileSystemWrapper {
 public:
  explicit ThreadRecordingFs(std::shared_ptr<rocksdb::FileSystem> target) : FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "ThreadRecordingFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) r->reset(new File(std::move(*r), this, f));
    return s;
  }

  void Note(const std::string& file) {
    std::lock_guard lk(mu);
    ++writes;
    // The main database's WAL (cursors, dead letters): not the spans database's.
    if (file.find("/spans/") == std::string::npos && file.ends_with(".log")) ++main_wal_writes;
    threads.insert(std::this_thread::get_id());
  }

  std::mutex mu;
  std::set<std::thread::id> threads;
  uint64_t writes = 0;
  uint64_t main_wal_writes = 0;

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& t, ThreadRecordingFs* fs, std::string name)
        : FSWritableFileOwnerWrapper(std::move(t)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      fs_->Note(name_);
      return FSWritableFileOwnerWrapper::Append(d, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
      fs_->Note(name_);
      return FSWritableFileOwnerWrapper::Append(d, o, v, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      fs_->Note(name_);
      return FSWritableFileOwnerWrapper::Sync(o, dbg);
    }

   private:
    ThreadRecordingFs* fs_;
    std::string name_;
  };
};

// The forwarder's acks and dead letters are RocksDB writes (the main
// database's WAL, fsynced in machine mode): none of them may run on the
// io_context's threads, where it would stall every upstream's requests
// behind the disk. They run on the buffer's worker thread.
TEST(ForwarderTest, NoRocksDbWriteRunsOnTheIoThreads) {
  auto fs = std::make_shared<ThreadRecordingFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  FakeBackendOptions bo;
  bo.poison_span_ids = {"s-7"};
  FakeBackend backend(bo);
  backend.Start();
  buffer::Options o;
  o.env = env.get();
  o.durability = buffer::Durability::kMachine;  // dead letters and acks fsynced
  {
    Harness h(o);
    Forwarder& f = h.Add(Config(backend));
    uint64_t main_wal_before;
    {
      std::lock_guard lk(fs->mu);
      main_wal_before = fs->main_wal_writes;
      fs->threads.clear();
    }
    h.Append(50);
    ASSERT_TRUE(backend.WaitForUniqueSpans(49, 20s));
    ASSERT_TRUE(WaitFor([&] { return f.GetStats().dead_lettered == 1; }));
    ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; })) << "acked";
    h.StopAll(5s);
    std::lock_guard lk(fs->mu);
    EXPECT_GT(fs->main_wal_writes, main_wal_before) << "the ack and the dead letter were written";
    for (std::thread::id io : h.io_thread_ids()) {
      EXPECT_EQ(fs->threads.count(io), 0u) << "a RocksDB write ran on an io_context thread";
    }
  }
}

}  // namespace
}  // namespace spanvault::upstream
