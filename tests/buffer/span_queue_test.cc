// Tests for buffer/: the SpanIndex arithmetic on its own, then SpanQueue on a
// real RocksDB in a temp dir. Timing never decides a result: group commit is
// forced by holding the writer in a callback, and max_age is awaited with a
// bounded poll.
#include "buffer/span_queue.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "buffer/quarantine.h"
#include "buffer/salvage.h"
#include "buffer/span_index.h"
#include "buffer/store_format.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- helpers

span::Batch MakeBatch(int n, int64_t received_ns, const std::string& tag = "s") {
  span::Batch b;
  b.received_ns = received_ns;
  for (int i = 0; i < n; ++i) {
    // Two-digit index: every span of a batch has the same size.
    std::string json = R"({"name":")" + tag + (i < 10 ? "0" : "") + std::to_string(i) + R"("})";
    b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
    b.data += json;
  }
  return b;
}

using testing::MakeRejection;  // tests/test_util.h

StoreResult AppendAndWait(SpanQueue& q, span::Batch b, bool fsync = false) {
  std::promise<StoreResult> p;
  auto f = p.get_future();
  q.Append(std::move(b), fsync, [&p](const StoreResult& r) { p.set_value(r); });
  return f.get();
}

Options DefaultOptions(const fs::path& dir) {
  Options o;
  o.dir = dir;
  o.fsync_interval = std::chrono::hours(1);  // no periodic sync unless a test wants one
  return o;
}

std::unique_ptr<SpanQueue> MustOpen(const Options& o) {
  auto q = SpanQueue::Open(o);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message);
  return q ? std::move(*q) : nullptr;
}

std::vector<uint64_t> Seqs(const RecordBatch& records) {
  std::vector<uint64_t> out;
  for (const auto& r : records) out.push_back(r.seq);
  return out;
}

RecordBatch ReadAll(const SpanQueue& q) {
  auto r = q.Read(0, 1'000'000, SIZE_MAX);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : RecordBatch{};
}

// A receive time `offset_ns` after the start of the test run (recent enough
// that the default max_age keeps it).
int64_t T(int64_t offset_ns) {
  static const int64_t base = NowNanos();
  return base + offset_ns;
}

using testing::WaitFor;  // tests/test_util.h

// Logical bytes of one test span (key + value header + JSON).
uint64_t SpanBytes(std::string_view json) { return 8 + 9 + json.size(); }

// The crash test re-executes this binary with these variables set. The
// global environment below then runs, in the child, before any test: open,
// append, wait for the callbacks, _exit() without Close().
constexpr char kCrashDirEnv[] = "SPANVAULT_TEST_CRASH_DIR";
constexpr char kCrashCountEnv[] = "SPANVAULT_TEST_CRASH_COUNT";

class CrashChildEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* dir = getenv(kCrashDirEnv);
    const char* count = getenv(kCrashCountEnv);
    if (dir == nullptr || count == nullptr) return;
    Options o;
    o.dir = dir;
    o.fsync_interval = std::chrono::hours(1);  // durable = in the WAL, not fsynced
    auto q = SpanQueue::Open(o);
    if (!q) _exit(2);
    int n = std::atoi(count);
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    bool all_ok = true;
    for (int i = 0; i < n; ++i) {
      (*q)->Append(MakeBatch(1, NowNanos(), "crash"), false, [&](const StoreResult& r) {
        std::lock_guard lk(mu);
        all_ok = all_ok && r.ok && r.stored == 1;
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return done == n; });
    _exit(all_ok ? 0 : 3);
  }
};
[[maybe_unused]] ::testing::Environment* const kCrashChild =
    ::testing::AddGlobalTestEnvironment(new CrashChildEnvironment);

// ---------------------------------------------------------------- SpanIndex

TEST(SpanIndexTest, MergesExtentsAndTrimsWithProratedBytes) {
  internal::SpanIndex index(1000);
  index.Reset(1);
  for (uint64_t s = 1; s <= 10; ++s) index.Add(s, 100, 50 + static_cast<int64_t>(s));
  EXPECT_EQ(index.spans(), 10u);
  EXPECT_EQ(index.bytes(), 1000u);
  EXPECT_EQ(index.extents(), 1u);
  index.Add(11, 100, 70);  // over max_extent_bytes: a new extent
  EXPECT_EQ(index.extents(), 2u);

  auto removed = index.TrimBelow(5);  // 4 of the 10 spans of the first extent
  EXPECT_EQ(removed.spans, 4u);
  EXPECT_EQ(removed.bytes, 400u);
  EXPECT_EQ(index.head_seq(), 5u);
  removed = index.TrimBelow(12);
  EXPECT_EQ(removed.spans, 7u);
  EXPECT_EQ(removed.bytes, 700u);
  EXPECT_EQ(index.bytes(), 0u);
  EXPECT_EQ(index.head_seq(), 12u);
  EXPECT_EQ(index.next_seq(), 12u);
  EXPECT_EQ(index.oldest_received_ns(), 0);
}

TEST(SpanIndexTest, HeadToFitDropsWholeExtents) {
  internal::SpanIndex index(200);
  index.Reset(1);
  for (uint64_t s = 1; s <= 6; ++s) index.Add(s, 100, 0);  // extents [1,2] [3,4] [5,6]
  EXPECT_EQ(index.HeadToFit(0, 600), 1u);
  EXPECT_EQ(index.HeadToFit(50, 600), 3u);
  EXPECT_EQ(index.HeadToFit(250, 600), 5u);
  EXPECT_EQ(index.HeadToFit(600, 600), 7u);
  EXPECT_EQ(index.HeadToFit(601, 600), 7u);
}

TEST(SpanIndexTest, PlanAgeFindsTheStraddlingExtent) {
  internal::SpanIndex index(200);
  index.Reset(1);
  index.Add(1, 100, 10);
  index.Add(2, 100, 20);  // extent [1,2]: 10..20
  index.Add(3, 100, 30);
  index.Add(4, 100, 40);  // extent [3,4]: 30..40
  auto plan = index.PlanAge(25);
  EXPECT_EQ(plan.head, 3u);
  EXPECT_FALSE(plan.straddling.has_value());
  plan = index.PlanAge(35);
  EXPECT_EQ(plan.head, 3u);
  ASSERT_TRUE(plan.straddling.has_value());
  EXPECT_EQ(plan.straddling->first_seq, 3u);
  plan = index.PlanAge(100);
  EXPECT_EQ(plan.head, 5u);
  plan = index.PlanAge(5);
  EXPECT_EQ(plan.head, 1u);
  EXPECT_FALSE(plan.straddling.has_value());
}

TEST(SpanIndexTest, QuarantinePlanDropsOldestThenNew) {
  internal::QuarantineIndex q;
  for (uint64_t id = 1; id <= 3; ++id) q.Add(id, 10);
  auto plan = q.PlanAdd(4, {10, 10}, 4, 1000);
  EXPECT_EQ(plan.drop_old, 1u);
  EXPECT_EQ(plan.drop_new, 0u);
  EXPECT_EQ(plan.delete_below, 2u);
  plan = q.PlanAdd(4, {10, 10, 10, 10, 10}, 4, 1000);
  EXPECT_EQ(plan.drop_old, 3u);
  EXPECT_EQ(plan.drop_new, 1u);
  EXPECT_EQ(plan.delete_below, 5u);
  q.Apply(plan, 4, {10, 10, 10, 10, 10});
  EXPECT_EQ(q.entries(), 4u);
  EXPECT_EQ(q.bytes(), 40u);
  EXPECT_EQ(q.front_id(), 5u);
  plan = q.PlanAdd(9, {}, 1000, 25);  // byte bound
  EXPECT_EQ(plan.drop_old, 2u);
  EXPECT_EQ(plan.delete_below, 7u);
}

// ---------------------------------------------------------------- SpanQueue

TEST(SpanQueueTest, AppendsAndReadsInOrder) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  auto r1 = AppendAndWait(*q, MakeBatch(2, T(111), "a"));
  auto r2 = AppendAndWait(*q, MakeBatch(3, T(222), "b"));
  auto r3 = AppendAndWait(*q, MakeBatch(1, T(333), "c"));
  ASSERT_TRUE(r1.ok && r2.ok && r3.ok);
  EXPECT_EQ(r1.first_seq, 1u);
  EXPECT_EQ(r1.stored, 2u);
  EXPECT_EQ(r2.first_seq, 3u);
  EXPECT_EQ(r2.stored, 3u);
  EXPECT_EQ(r3.first_seq, 6u);

  auto all = ReadAll(*q);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(Seqs(all), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(all[0].json, R"({"name":"a00"})");
  EXPECT_EQ(all[0].received_ns, T(111));
  EXPECT_EQ(all[4].json, R"({"name":"b02"})");
  EXPECT_EQ(all[4].received_ns, T(222));
  EXPECT_EQ(all[5].json, R"({"name":"c00"})");

  auto from4 = q->Read(4, 2, SIZE_MAX);
  ASSERT_TRUE(from4);
  EXPECT_EQ(Seqs(*from4), (std::vector<uint64_t>{4, 5}));
  // max_bytes: at least one span even when it alone is larger.
  auto tiny = q->Read(1, 10, 1);
  ASSERT_TRUE(tiny);
  EXPECT_EQ(Seqs(*tiny), (std::vector<uint64_t>{1}));
  auto two = q->Read(1, 10, 2 * all[0].json.size());
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2u);
  auto past = q->Read(7, 10, SIZE_MAX);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->empty());

  Stats st = q->GetStats();
  EXPECT_EQ(st.spans, 6u);
  EXPECT_EQ(st.head_seq, 1u);
  EXPECT_EQ(st.next_seq, 7u);
  EXPECT_EQ(st.oldest_received_ns, T(111));
  uint64_t bytes = 0;
  for (const auto& r : all) bytes += SpanBytes(r.json);
  EXPECT_EQ(st.bytes, bytes);
}

TEST(SpanQueueTest, GroupCommitsConcurrentAppendsInOrder) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 200;

  // The first callback holds the writer until every other Append returned,
  // so all of them are queued together and must go out in one group.
  std::promise<void> all_appended;
  std::shared_future<void> released = all_appended.get_future().share();
  std::mutex mu;
  std::vector<std::pair<int, int>> order;  // (thread, i) in callback order
  std::vector<uint64_t> first_seqs;
  std::vector<int> calls(kThreads * kPerThread + 1, 0);
  bool all_ok = true;
  auto record = [&](int t, int i, const StoreResult& r) {
    std::lock_guard lk(mu);
    order.emplace_back(t, i);
    first_seqs.push_back(r.first_seq);
    calls[t < 0 ? kThreads * kPerThread : t * kPerThread + i]++;
    all_ok = all_ok && r.ok && r.stored == 1;
  };
  q->Append(MakeBatch(1, NowNanos(), "first"), false, [&](const StoreResult& r) {
    released.wait();
    record(-1, 0, r);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string tag = std::string(1, static_cast<char>('a' + t)) + "-";
      for (int i = 0; i < kPerThread; ++i) {
        q->Append(MakeBatch(1, NowNanos(), tag), false, [&, t, i](const StoreResult& r) { record(t, i, r); });
      }
    });
  }
  for (auto& th : threads) th.join();
  all_appended.set_value();
  auto barrier = AppendAndWait(*q, span::Batch{}, true);
  ASSERT_TRUE(barrier.ok);

  std::lock_guard lk(mu);
  ASSERT_EQ(order.size(), static_cast<size_t>(kThreads * kPerThread + 1));
  EXPECT_TRUE(all_ok);
  for (int c : calls) EXPECT_EQ(c, 1);
  // Callbacks run in Append order: seqs strictly increasing, and each
  // thread's own appends in the order it made them.
  for (size_t i = 1; i < first_seqs.size(); ++i) EXPECT_LT(first_seqs[i - 1], first_seqs[i]);
  std::vector<int> last(kThreads, -1);
  for (auto [t, i] : order) {
    if (t < 0) continue;
    EXPECT_EQ(i, last[t] + 1);
    last[t] = i;
  }
  Stats st = q->GetStats();
  EXPECT_EQ(st.spans, static_cast<uint64_t>(kThreads * kPerThread + 1));
  // The first request, then (at most a few groups racing with the first) all
  // the rest, then the barrier.
  EXPECT_LE(st.write_batches, 4u);
  // Every span stored once, each with the seq its callback reported.
  auto all = ReadAll(*q);
  ASSERT_EQ(all.size(), st.spans);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].seq, i + 1);
}

// A group commit takes whole requests from the queue up to max_group_bytes
// (at least one), in order; the rest go into the following groups. In machine
// mode, where each group costs an fsync, it takes all that is queued.
class GroupCommitSizeTest : public ::testing::TestWithParam<Durability> {};

TEST_P(GroupCommitSizeTest, TakesAtMostMaxGroupBytesInProcessModeAndEverythingInMachineMode) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.durability = GetParam();
  const span::Batch probe = MakeBatch(10, T(1), "g");
  const uint64_t request_bytes = probe.data.size() + probe.spans.size() * internal::kSpanOverhead;
  o.max_group_bytes = 2 * request_bytes + 1;  // three requests pass it
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  // Hold the writer in the first request's callback while ten more queue up.
  std::promise<void> hold, entered;
  std::shared_future<void> held = hold.get_future().share();
  q->Append(MakeBatch(10, T(1), "g"), false, [&](const StoreResult&) {
    entered.set_value();
    held.wait();
  });
  entered.get_future().wait();  // that request's group is written: the ten below queue behind it
  std::mutex mu;
  std::vector<uint64_t> first_seqs;
  std::promise<void> all_done;
  for (int i = 0; i < 10; ++i) {
    q->Append(MakeBatch(10, T(1), "g"), false, [&, i](const StoreResult& r) {
      EXPECT_TRUE(r.ok);
      std::lock_guard lk(mu);
      first_seqs.push_back(r.first_seq);
      if (i == 9) all_done.set_value();
    });
  }
  hold.set_value();
  all_done.get_future().wait();
  // The held request, then 3 + 3 + 3 + 1; or then all ten.
  EXPECT_EQ(q->GetStats().write_batches, GetParam() == Durability::kProcess ? 5u : 2u);
  std::lock_guard lk(mu);
  ASSERT_EQ(first_seqs.size(), 10u);
  for (size_t i = 0; i < first_seqs.size(); ++i) EXPECT_EQ(first_seqs[i], 11 + 10 * i);
}

INSTANTIATE_TEST_SUITE_P(Durability, GroupCommitSizeTest, ::testing::Values(Durability::kProcess, Durability::kMachine),
                         [](const ::testing::TestParamInfo<Durability>& i) {
                           return i.param == Durability::kProcess ? "process" : "machine";
                         });

TEST(SpanQueueTest, BarrierCompletesAfterEverythingBeforeItAndFsyncs) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  std::mutex mu;
  std::vector<std::string> events;
  std::promise<void> hold;
  std::shared_future<void> held = hold.get_future().share();
  q->Append(MakeBatch(1, T(1), "x"), false, [&](const StoreResult&) {
    held.wait();
    std::lock_guard lk(mu);
    events.push_back("a0");
  });
  for (int i = 1; i < 5; ++i) {
    q->Append(MakeBatch(1, T(1), "x"), false, [&, i](const StoreResult&) {
      std::lock_guard lk(mu);
      events.push_back(std::string("a").append(std::to_string(i)));
    });
  }
  std::promise<StoreResult> barrier;
  q->Append(span::Batch{}, true, [&](const StoreResult& r) {
    {
      std::lock_guard lk(mu);
      events.push_back("barrier");
    }
    barrier.set_value(r);
  });
  hold.set_value();
  StoreResult r = barrier.get_future().get();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 0u);
  EXPECT_EQ(events, (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4", "barrier"}));
  Stats st = q->GetStats();
  EXPECT_EQ(st.fsyncs, 1u);  // process mode, fsync_interval 1h: only the barrier's
  EXPECT_EQ(st.spans, 5u);

  // A barrier with nothing queued still syncs.
  ASSERT_TRUE(AppendAndWait(*q, span::Batch{}, true).ok);
  EXPECT_EQ(q->GetStats().fsyncs, 2u);
  // An ordinary append in process mode does not.
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(1, T(1))).ok);
  EXPECT_EQ(q->GetStats().fsyncs, 2u);
  // Close syncs what was written since.
  q->Close();
  EXPECT_EQ(q->GetStats().fsyncs, 3u);
}

TEST(SpanQueueTest, MachineDurabilityFsyncsEveryGroup) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.durability = Durability::kMachine;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(AppendAndWait(*q, MakeBatch(2, T(1))).ok);
  Stats st = q->GetStats();
  EXPECT_EQ(st.write_batches, 5u);
  EXPECT_EQ(st.fsyncs, 5u);
}

TEST(SpanQueueTest, ProcessDurabilitySyncsEveryInterval) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.fsync_interval = 20ms;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(1, T(1))).ok);
  EXPECT_TRUE(WaitFor([&] { return q->GetStats().fsyncs >= 1; }));
  uint64_t synced = q->GetStats().fsyncs;
  // Nothing written since: no more syncs.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(q->GetStats().fsyncs, synced);
}

TEST(SpanQueueTest, ReopenKeepsEverythingAndContinuesSeqs) {
  testing::TempDir dir;
  {
    auto q = MustOpen(DefaultOptions(dir.path()));
    ASSERT_TRUE(q);
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(4, T(100), "a")).ok);
    ASSERT_TRUE(q->AddConsumer("up"));
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(3, T(200), "b")).ok);
  }
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  Stats st = q->GetStats();
  EXPECT_EQ(st.spans, 7u);
  EXPECT_EQ(st.head_seq, 1u);
  EXPECT_EQ(st.next_seq, 8u);
  EXPECT_EQ(st.oldest_received_ns, T(100));
  EXPECT_EQ(q->Consumers(), std::vector<std::string>{"up"});
  EXPECT_EQ(q->ConsumerPosition("up").value_or(0), 1u) << "the first consumer starts at the head";
  auto r = AppendAndWait(*q, MakeBatch(1, T(300), "c"));
  EXPECT_EQ(r.first_seq, 8u);
  auto all = ReadAll(*q);
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[3].json, R"({"name":"a03"})");
  EXPECT_EQ(all[7].json, R"({"name":"c00"})");
}

// A store at `dir` whose consumer "up" acknowledged the five spans it got
// (seqs 1..5), then closed; with `remove_consumer`, "up" is removed first.
void FiveSpansDelivered(const fs::path& dir, bool remove_consumer) {
  auto q = MustOpen(DefaultOptions(dir));
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->AddConsumer("up"));
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(5, T(1))).ok);
  ASSERT_TRUE(q->Ack("up", 6));
  EXPECT_EQ(q->GetStats().spans, 0u);
  if (remove_consumer) {
    ASSERT_TRUE(q->RemoveConsumer("up"));
  }
  q->Close();
}

TEST(SpanQueueTest, SeqsDoNotRestartAfterTheStoreEmpties) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(FiveSpansDelivered(dir.path(), /*remove_consumer=*/true));
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->GetStats().next_seq, 6u);
  EXPECT_EQ(AppendAndWait(*q, MakeBatch(1, T(1))).first_seq, 6u);
}

TEST(SpanQueueTest, SpansInTheWalSurviveAKilledProcess) {
  testing::TempDir dir;
  const fs::path store = dir.path() / "store";
  constexpr int kSpans = 300;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Re-exec: the parent has RocksDB threads that a forked child would lack.
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, STDOUT_FILENO);  // the child's gtest banner
    setenv(kCrashDirEnv, store.c_str(), 1);
    setenv(kCrashCountEnv, std::to_string(kSpans).c_str(), 1);
    execl("/proc/self/exe", "span_queue_crash_child", static_cast<char*>(nullptr));
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  {
    auto ro = SpanQueue::OpenReadOnly(store);
    ASSERT_TRUE(ro) << ro.error().message;
    auto all = ReadAll(**ro);
    ASSERT_EQ(all.size(), static_cast<size_t>(kSpans));
    EXPECT_EQ(all.front().seq, 1u);
    EXPECT_EQ(all.back().seq, static_cast<uint64_t>(kSpans));
    EXPECT_EQ((*ro)->GetStats().spans, static_cast<uint64_t>(kSpans));
  }
  auto q = MustOpen(DefaultOptions(store));
  ASSERT_TRUE(q);
  auto all = ReadAll(*q);
  ASSERT_EQ(all.size(), static_cast<size_t>(kSpans));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, i + 1);
    EXPECT_EQ(all[i].json, R"({"name":"crash00"})");
  }
  EXPECT_EQ(q->GetStats().next_seq, static_cast<uint64_t>(kSpans + 1));
}

TEST(SpanQueueTest, OpenReadOnlyWhileThePrimaryIsOpen) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  span::Batch b = MakeBatch(5, T(10));
  b.quarantine.push_back(MakeRejection(0));
  ASSERT_TRUE(AppendAndWait(*q, std::move(b)).ok);
  ASSERT_TRUE(q->AddConsumer("up"));

  auto ro = SpanQueue::OpenReadOnly(dir.path());
  ASSERT_TRUE(ro) << ro.error().message;
  EXPECT_EQ(Seqs(ReadAll(**ro)), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  Stats st = (*ro)->GetStats();
  EXPECT_EQ(st.spans, 5u);
  EXPECT_EQ(st.quarantined, 1u);
  auto entries = (*ro)->quarantine().List(10);
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->size(), 1u);
  EXPECT_EQ((*ro)->Consumers(), std::vector<std::string>{"up"});

  StoreResult r = AppendAndWait(**ro, MakeBatch(1, T(1)));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE((*ro)->Ack("up", 2));
  EXPECT_FALSE((*ro)->AddConsumer("other"));
  EXPECT_FALSE((*ro)->RemoveConsumer("up"));
  (*ro)->Close();
  // The primary is unaffected.
  EXPECT_TRUE(AppendAndWait(*q, MakeBatch(1, T(1))).ok);
  EXPECT_EQ(q->GetStats().spans, 6u);
}

TEST(SpanQueueTest, OpenReadOnlyOfAMissingStoreFails) {
  testing::TempDir dir;
  auto ro = SpanQueue::OpenReadOnly(dir.path() / "nothing");
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code, Error::Code::kIo);
}

TEST(SpanQueueTest, SpansAreDeletedOnlyWhenEveryConsumerAcked) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(2, T(1))).ok);  // seqs 1-2: before any consumer
  ASSERT_TRUE(q->AddConsumer("a"));
  ASSERT_TRUE(q->AddConsumer("b"));
  ASSERT_TRUE(q->AddConsumer("a"));  // idempotent
  // The first consumer takes what was buffered without one; later ones start
  // at the tail.
  EXPECT_EQ(q->ConsumerPosition("a").value_or(0), 1u);
  EXPECT_EQ(q->ConsumerPosition("b").value_or(0), 3u);
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(10, T(1))).ok);  // seqs 3-12
  EXPECT_EQ(q->GetStats().spans, 12u);

  // Seqs 1-2 are below b's cursor: once a acks past them they go; b has
  // acked nothing, so nothing else goes.
  ASSERT_TRUE(q->Ack("a", 8));
  EXPECT_EQ(q->GetStats().head_seq, 3u);
  EXPECT_EQ(q->GetStats().spans, 10u);
  ASSERT_TRUE(q->Ack("b", 5));
  EXPECT_EQ(q->GetStats().head_seq, 5u);
  EXPECT_EQ(q->GetStats().spans, 8u);
  EXPECT_EQ(Seqs(*q->Read(0, 100, SIZE_MAX)).front(), 5u);

  ASSERT_TRUE(q->Ack("b", 4));  // backwards: ignored
  EXPECT_EQ(q->ConsumerPosition("b").value_or(0), 5u);
  ASSERT_TRUE(q->Ack("b", 11));
  EXPECT_EQ(q->GetStats().head_seq, 8u);  // min(a=8, b=11)
  ASSERT_TRUE(q->Ack("a", 6));            // backwards
  EXPECT_EQ(q->ConsumerPosition("a").value_or(0), 8u);

  auto beyond = q->Ack("a", 100);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code, Error::Code::kInvalidArgument);
  EXPECT_FALSE(q->Ack("nobody", 1));

  // Removing the slower consumer releases what the other one acked.
  ASSERT_TRUE(q->RemoveConsumer("a"));
  EXPECT_EQ(q->GetStats().head_seq, 11u);
  EXPECT_EQ(q->GetStats().spans, 2u);
  EXPECT_EQ(q->Consumers(), std::vector<std::string>{"b"});
  ASSERT_TRUE(q->RemoveConsumer("a"));  // idempotent

  // Removing the last one deletes nothing more.
  ASSERT_TRUE(q->RemoveConsumer("b"));
  EXPECT_EQ(q->GetStats().spans, 2u);
  q.reset();

  auto again = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->GetStats().head_seq, 11u);
  EXPECT_EQ(again->GetStats().spans, 2u);
  EXPECT_TRUE(again->Consumers().empty());
}

TEST(SpanQueueTest, ConsumerCursorsArePersisted) {
  testing::TempDir dir;
  {
    auto q = MustOpen(DefaultOptions(dir.path()));
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->AddConsumer("a"));
    ASSERT_TRUE(q->AddConsumer("b"));
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(6, T(1))).ok);
    ASSERT_TRUE(q->Ack("a", 4));
    ASSERT_TRUE(q->Ack("b", 3));
  }
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->ConsumerPosition("a").value_or(0), 4u);
  EXPECT_EQ(q->ConsumerPosition("b").value_or(0), 3u);
  EXPECT_EQ(q->GetStats().head_seq, 3u);
  EXPECT_EQ(q->GetStats().spans, 4u);
  EXPECT_FALSE(q->ConsumerPosition("c"));
  EXPECT_FALSE(q->AddConsumer(""));
}

TEST(SpanQueueTest, DropsOldestAtMaxDiskBytes) {
  testing::TempDir dir;
  const uint64_t one = SpanBytes(R"({"name":"s00"})");
  Options o = DefaultOptions(dir.path());
  o.max_disk_bytes = 10 * one;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->AddConsumer("slow"));
  for (int i = 0; i < 25; ++i) {
    auto r = AppendAndWait(*q, MakeBatch(1, T(1)));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.stored, 1u);
  }
  Stats st = q->GetStats();
  EXPECT_LE(st.bytes, o.max_disk_bytes);
  EXPECT_EQ(st.next_seq, 26u);
  EXPECT_EQ(st.spans + st.dropped_spans, 25u);
  EXPECT_GE(st.spans, 5u);
  EXPECT_EQ(st.dropped_bytes, st.dropped_spans * one);
  auto all = ReadAll(*q);
  ASSERT_EQ(all.size(), st.spans);
  EXPECT_EQ(all.front().seq, st.head_seq);
  EXPECT_GT(all.front().seq, 1u);
  EXPECT_EQ(all.back().seq, 25u);
  // A consumer behind the head reads from the head.
  EXPECT_EQ(q->ConsumerPosition("slow").value_or(0), st.head_seq);
  EXPECT_EQ(Seqs(*q->Read(1, 1, SIZE_MAX)), std::vector<uint64_t>{st.head_seq});

  // One batch larger than the whole bound keeps its newest spans.
  auto r = AppendAndWait(*q, MakeBatch(15, T(2), "t"));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 10u);
  EXPECT_EQ(r.first_seq, 26u);
  all = ReadAll(*q);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front().json, R"({"name":"t05"})");
  EXPECT_EQ(all.back().json, R"({"name":"t14"})");
  st = q->GetStats();
  EXPECT_EQ(st.spans + st.dropped_spans, 40u);
  EXPECT_LE(st.bytes, o.max_disk_bytes);
}

TEST(SpanQueueTest, RejectsWhenFullAndKeepsWhatIsStored) {
  testing::TempDir dir;
  const uint64_t one = SpanBytes(R"({"name":"s00"})");
  Options o = DefaultOptions(dir.path());
  o.max_disk_bytes = 10 * one;
  o.on_full = OnFull::kReject;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(8, T(1))).ok);
  span::Batch b = MakeBatch(3, T(1), "late");
  b.quarantine.push_back(MakeRejection(0));
  auto r = AppendAndWait(*q, std::move(b));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 0u);
  EXPECT_EQ(r.refused_full, 3u);
  auto fits = AppendAndWait(*q, MakeBatch(2, T(1), "f"));  // exactly up to the bound
  EXPECT_EQ(fits.stored, 2u);
  EXPECT_EQ(fits.first_seq, 9u);
  Stats st = q->GetStats();
  EXPECT_EQ(st.refused_full, 3u);
  EXPECT_EQ(st.spans, 10u);
  EXPECT_EQ(st.dropped_spans, 0u);
  EXPECT_EQ(st.quarantined, 1u);  // the refused batch's quarantine entry is kept
  EXPECT_EQ(ReadAll(*q).front().seq, 1u);
  EXPECT_EQ(AppendAndWait(*q, MakeBatch(1, T(1))).refused_full, 1u);
}

TEST(SpanQueueTest, DropsSpansOlderThanMaxAge) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.max_age = 50ms;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE(AppendAndWait(*q, MakeBatch(5, NowNanos())).ok);
  EXPECT_TRUE(WaitFor([&] { return q->GetStats().spans == 0; }));
  Stats st = q->GetStats();
  EXPECT_EQ(st.dropped_spans, 5u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(st.head_seq, 6u);
  EXPECT_TRUE(ReadAll(*q).empty());
}

TEST(SpanQueueTest, MaxAgeDropsOnlyTheOldPrefixOfAnExtent) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.max_age = std::chrono::minutes(1);
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  const int64_t hour = 3600LL * 1'000'000'000;
  // Hold the writer so that both batches land in one group, hence one
  // extent whose receive times straddle the cutoff.
  std::promise<void> gate;
  std::shared_future<void> gate_open = gate.get_future().share();
  q->Append(span::Batch{}, false, [gate_open](const StoreResult&) { gate_open.wait(); });
  std::promise<StoreResult> old_done, new_done;
  q->Append(MakeBatch(3, NowNanos() - hour, "old"), false, [&](const StoreResult& r) { old_done.set_value(r); });
  q->Append(MakeBatch(2, NowNanos(), "new"), false, [&](const StoreResult& r) { new_done.set_value(r); });
  gate.set_value();
  ASSERT_TRUE(old_done.get_future().get().ok);
  ASSERT_TRUE(new_done.get_future().get().ok);
  ASSERT_TRUE(WaitFor([&] { return q->GetStats().dropped_spans >= 3; }));
  Stats st = q->GetStats();
  EXPECT_EQ(st.dropped_spans, 3u);
  EXPECT_EQ(st.spans, 2u);
  EXPECT_EQ(st.bytes, 2 * SpanBytes(R"({"name":"new00"})"));
  EXPECT_GT(st.oldest_received_ns, NowNanos() - hour / 2);
  auto all = ReadAll(*q);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].seq, 4u);
  EXPECT_EQ(all[0].json, R"({"name":"new00"})");
}

void Overwrite(const fs::path& p, const std::string& garbage) {
  auto size = fs::file_size(p);
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  std::string data;
  while (data.size() < std::max<uintmax_t>(size, garbage.size())) data += garbage;
  f << data;
}

void ExpectMovedAsideAndFresh(const fs::path& store) {
  auto q = MustOpen(DefaultOptions(store));
  ASSERT_TRUE(q);
  Stats st = q->GetStats();
  EXPECT_EQ(st.spans, 0u);
  ASSERT_FALSE(st.store_recovered_from.empty());
  EXPECT_EQ(st.store_recovered_from.rfind(store.string() + ".corrupt-", 0), 0u) << st.store_recovered_from;
  EXPECT_TRUE(fs::is_directory(st.store_recovered_from));
  EXPECT_TRUE(AppendAndWait(*q, MakeBatch(1, T(1))).ok);
  q.reset();
  // The fresh store is a normal one.
  auto again = MustOpen(DefaultOptions(store));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->GetStats().spans, 1u);
  EXPECT_TRUE(again->GetStats().store_recovered_from.empty());
}

TEST(SpanQueueTest, CorruptCurrentFileMovesTheStoreAside) {
  testing::TempDir dir;
  const fs::path store = dir.path() / "store";
  {
    auto q = MustOpen(DefaultOptions(store));
    ASSERT_TRUE(q);
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(3, T(1))).ok);
  }
  Overwrite(store / "CURRENT", "garbage");  // no trailing newline: corrupt
  ExpectMovedAsideAndFresh(store);
}

TEST(SpanQueueTest, CorruptTableFileMovesTheStoreAside) {
  testing::TempDir dir;
  const fs::path store = dir.path() / "store";
  {
    auto q = MustOpen(DefaultOptions(store));
    ASSERT_TRUE(q);
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(50, T(1))).ok);
  }
  // Reopening replays the WAL into a table file.
  MustOpen(DefaultOptions(store)).reset();
  bool corrupted = false;
  for (const auto& e : fs::directory_iterator(store)) {
    if (e.path().extension() == ".sst") {
      Overwrite(e.path(), "not a table ");
      corrupted = true;
    }
  }
  ASSERT_TRUE(corrupted) << "no .sst file to corrupt";
  ExpectMovedAsideAndFresh(store);
}

TEST(SpanQueueTest, ALockedStoreFailsWithIo) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  auto second = SpanQueue::Open(DefaultOptions(dir.path()));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Error::Code::kIo);
  EXPECT_NE(second.error().message.find("lock"), std::string::npos) << second.error().message;
}

TEST(SpanQueueTest, InvalidOptionsAreReportedTogether) {
  Options o;
  o.max_disk_bytes = 0;
  o.fsync_interval = 0ms;
  auto q = SpanQueue::Open(o);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, Error::Code::kInvalidArgument);
  EXPECT_NE(q.error().message.find("dir"), std::string::npos);
  EXPECT_NE(q.error().message.find("max_disk_bytes"), std::string::npos);
  EXPECT_NE(q.error().message.find("fsync_interval"), std::string::npos);
}

TEST(SpanQueueTest, CloseCommitsQueuedAppendsAndRefusesLaterOnes) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    q->Append(MakeBatch(1, T(1)), false, [&](const StoreResult& r) {
      if (r.ok) ++ok;
    });
  }
  q->Close();
  EXPECT_EQ(ok.load(), 20);
  bool called = false;
  StoreResult late;
  q->Append(MakeBatch(1, T(1)), false, [&](const StoreResult& r) {
    called = true;
    late = r;
  });
  EXPECT_TRUE(called);  // at once, on this thread
  EXPECT_FALSE(late.ok);
  EXPECT_FALSE(q->Read(0, 10, SIZE_MAX));
  q->Close();  // idempotent
  q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->GetStats().spans, 20u);
}

TEST(SpanQueueTest, AppendBlocksAtThePendingBoundUntilTheWriterCatchesUp) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.max_pending_bytes = 1;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  std::promise<void> writer_held, gate;
  std::shared_future<void> gate_open = gate.get_future().share();
  q->Append(span::Batch{}, false, [&, gate_open](const StoreResult&) {
    writer_held.set_value();
    gate_open.wait();
  });
  writer_held.get_future().wait();
  q->Append(MakeBatch(1, T(1), "a"), false, nullptr);  // an empty queue always takes one
  std::atomic<bool> second_returned{false};
  std::atomic<pid_t> second_tid{0};
  std::thread t([&] {
    second_tid = gettid();
    q->Append(MakeBatch(1, T(1), "b"), false, nullptr);
    second_returned = true;
  });
  // Over the bound while the writer is held: the call sleeps (on the
  // queue's condition variable) instead of returning.
  ASSERT_TRUE(WaitFor([&] { return second_returned || (second_tid != 0 && testing::ThreadWaitsOnFutex(second_tid)); }));
  EXPECT_FALSE(second_returned.load());
  gate.set_value();
  t.join();
  EXPECT_TRUE(second_returned.load());
  ASSERT_TRUE(AppendAndWait(*q, span::Batch{}, true).ok);
  EXPECT_EQ(q->GetStats().spans, 2u);
}

TEST(SpanQueueTest, AppendFromACallbackDoesNotDeadlockAtThePendingBound) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.max_pending_bytes = 1;  // every queued batch is over the bound
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  std::promise<StoreResult> inner;
  std::atomic<int> outer_calls{0};
  // Five appends from the test thread (each waits for room), the first of
  // which appends again from its callback on the writer thread.
  q->Append(MakeBatch(1, T(1), "outer"), false, [&](const StoreResult&) {
    ++outer_calls;
    q->Append(MakeBatch(1, T(1), "inner"), false, [&](const StoreResult& r) { inner.set_value(r); });
    q->Append(MakeBatch(1, T(1), "inner2"), false, [](const StoreResult&) {});
  });
  for (int i = 0; i < 4; ++i) q->Append(MakeBatch(1, T(1)), false, [&](const StoreResult&) { ++outer_calls; });
  auto r = inner.get_future().get();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.stored, 1u);
  EXPECT_TRUE(AppendAndWait(*q, span::Batch{}, true).ok);
  EXPECT_EQ(outer_calls.load(), 5);
  EXPECT_EQ(q->GetStats().spans, 7u);
}

}  // namespace
}  // namespace spanvault::buffer

namespace spanvault::buffer {
namespace {

uint64_t SstBytes(const fs::path& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".sst") n += e.file_size(ec);
  }
  return n;
}

// Acknowledged spans are deleted without range tombstones (store_format.h):
// the flush drops the ones already below the head, keeps every one above it,
// and writes no tombstone that would make later compactions rewrite the
// undelivered spans. Checked on the table files themselves after the idle
// flush (32 MiB appended, then a second without intake).
TEST(SpanQueueLazyDeleteTest, FlushDropsDeliveredSpansAndWritesNoRangeTombstone) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->AddConsumer("up"));
  const std::string pad(1000, 'x');
  auto batch = [&](int n) {
    span::Batch b;
    b.received_ns = NowNanos();
    for (int i = 0; i < n; ++i) {
      std::string json = R"({"name":"s","pad":")" + pad + R"("})";
      b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
      b.data += json;
    }
    return b;
  };
  // 22 MB delivered as it arrives (like a live upstream), then 12 MB that
  // stays: under one 32 MiB memtable each way, over the idle-flush threshold.
  constexpr int kRound = 500, kDeliveredRounds = 44, kKept = 12'000;
  for (int r = 0; r < kDeliveredRounds; ++r) {
    auto res = AppendAndWait(*q, batch(kRound));
    ASSERT_TRUE(res.ok);
    ASSERT_TRUE(q->Ack("up", res.first_seq + res.stored));
  }
  for (int i = 0; i < kKept / kRound; ++i) ASSERT_TRUE(AppendAndWait(*q, batch(kRound)).ok);
  const uint64_t head = q->GetStats().head_seq;
  ASSERT_EQ(head, uint64_t{kRound} * kDeliveredRounds + 1);
  // The idle flush writes the kept spans (~12 MB) to a table file.
  ASSERT_TRUE(WaitFor([&] { return SstBytes(dir.path() / internal::kSpansDbDir) >= 10'000'000; }, 20s))
      << "the idle flush did not happen";
  q->Close();
  q.reset();

  rocksdb::DBOptions dbo = internal::MakeDbOptions();
  auto descriptors = internal::SpansDbDescriptors(nullptr);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::OpenForReadOnly(dbo, (dir.path() / internal::kSpansDbDir).string(), descriptors, &handles, &raw)
          .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::TablePropertiesCollection props;
  ASSERT_TRUE(db->GetPropertiesOfAllTables(handles[0], &props).ok());  // the spans database's only family
  uint64_t entries = 0, range_deletions = 0, below_head = 0;
  for (const auto& [file, p] : props) {
    entries += p->num_entries;
    range_deletions += p->num_range_deletions;
  }
  {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[0]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (internal::DecodeSeq(it->key()).value_or(0) < head) ++below_head;
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  db->Close();
  EXPECT_EQ(range_deletions, 0u);
  // Every kept span is in a table file; of the delivered ones at most a
  // round (acknowledged after its memtable was already being flushed).
  EXPECT_GE(entries, uint64_t{kKept});
  EXPECT_LE(entries, uint64_t{kKept} + kRound);
  EXPECT_LE(below_head, uint64_t{kRound});
}

}  // namespace
}  // namespace spanvault::buffer

namespace spanvault::buffer {
namespace {

// The levels of the spans database's table files as its MANIFEST says now,
// followed by a RocksDB secondary instance (which the queue's own instance
// allows, as for OpenReadOnly) kept in `secondary_dir`.
class SpansDbLevels {
 public:
  SpansDbLevels(const fs::path& spans_dir, const fs::path& secondary_dir) {
    rocksdb::DB* raw = nullptr;
    if (rocksdb::DB::OpenAsSecondary(internal::MakeDbOptions(), spans_dir.string(), secondary_dir.string(),
                                     internal::SpansDbDescriptors(nullptr), &handles_, &raw)
            .ok()) {
      db_.reset(raw);
    }
  }
  ~SpansDbLevels() {
    if (!db_) return;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
  bool ok() const { return db_ != nullptr; }

  // Table files below L0 now (0 when the MANIFEST cannot be followed).
  size_t FilesBelowL0() {
    if (!db_ || !db_->TryCatchUpWithPrimary().ok()) return 0;
    rocksdb::ColumnFamilyMetaData meta;
    db_->GetColumnFamilyMetaData(handles_.front(), &meta);
    size_t below = 0;
    for (const auto& level : meta.levels) below += level.level > 0 ? level.files.size() : 0;
    return below;
  }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

// Table files wholly below the head are dropped without waiting for a
// compaction to read them, by the store thread (ReclaimBelow hands it the head
// every 64 MiB acknowledged). Only files below L0 qualify: ~140 MB fill four
// 32 MiB memtables, and the fourth L0 file has RocksDB move files down (a
// trivial move, no rewrite); at least one of them must go.
TEST(SpanQueueLazyDeleteTest, TableFilesBelowTheHeadAreDroppedAfterAcks) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->AddConsumer("up"));
  const std::string pad(1000, 'y');
  auto append = [&](int batches) {
    for (int k = 0; k < batches; ++k) {
      span::Batch b;
      b.received_ns = NowNanos();
      for (int i = 0; i < 1000; ++i) {
        std::string json = R"({"name":"s","pad":")" + pad + R"("})";
        b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(json.size())});
        b.data += json;
      }
      ASSERT_TRUE(AppendAndWait(*q, std::move(b)).ok);
    }
  };
  append(140);
  ASSERT_TRUE(WaitFor([&] { return SstBytes(dir.path() / internal::kSpansDbDir) >= 120'000'000; }, 30s))
      << "the memtables were not flushed";
  // The move below L0 is a metadata change right after the fourth flush:
  // seen in the MANIFEST through a secondary instance.
  {
    testing::TempDir secondary;
    SpansDbLevels levels(dir.path() / internal::kSpansDbDir, secondary.path());
    ASSERT_TRUE(levels.ok());
    ASSERT_TRUE(WaitFor([&] { return levels.FilesBelowL0() > 0; }, 30s, 50ms)) << "no table file was moved below L0";
  }
  const uint64_t flushed = SstBytes(dir.path() / internal::kSpansDbDir);
  ASSERT_TRUE(q->Ack("up", q->next_seq()));
  EXPECT_TRUE(WaitFor([&] { return SstBytes(dir.path() / internal::kSpansDbDir) + 20'000'000 < flushed; }, 20s))
      << "table files below the head are still there: " << SstBytes(dir.path() / internal::kSpansDbDir) << " of "
      << flushed << " bytes";
  EXPECT_EQ(q->GetStats().spans, 0u);
}

// Delivered spans stay in the table files until RocksDB drops them (lazy
// deletion), so salvaging a store must start at its head or it would send
// them all again.
TEST(SpanQueueLazyDeleteTest, SalvageSkipsWhatWasDelivered) {
  testing::TempDir dir;
  {
    auto q = MustOpen(DefaultOptions(dir.path()));
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->AddConsumer("up"));
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(10, T(1))).ok);
    ASSERT_TRUE(q->Ack("up", 7));  // seqs 1..6 delivered
    q->Close();
  }
  std::vector<std::string> names;
  auto r = Salvage(dir.path(), [&](span::Batch&& b) -> Status {
    for (size_t i = 0; i < b.spans.size(); ++i) names.emplace_back(b.SpanAt(i));
    return {};
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->spans, 4u);
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names.front(), R"({"name":"s06"})");
  EXPECT_EQ(names.back(), R"({"name":"s09"})");
}

}  // namespace
}  // namespace spanvault::buffer

namespace spanvault::buffer {
namespace {

// A store written before the spans moved to their own database: its spans
// are in a "spans" column family of the main one (store_format.h).
void WriteLegacyStore(const fs::path& dir, uint64_t head, uint64_t last) {
  rocksdb::DBOptions dbo = internal::MakeDbOptions();
  std::vector<rocksdb::ColumnFamilyDescriptor> d = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {internal::kSpansCf, rocksdb::ColumnFamilyOptions()},
      {internal::kQuarantineCf, rocksdb::ColumnFamilyOptions()},
      {internal::kMetaCf, rocksdb::ColumnFamilyOptions()},
      {internal::kDeadLetterCf, rocksdb::ColumnFamilyOptions()},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(dbo, dir.string(), d, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteBatch wb;
  std::string value;
  for (uint64_t seq = 1; seq <= last; ++seq) {  // below the head too: lazily deleted ones
    value.clear();
    internal::EncodeSpanValue(T(static_cast<int>(seq)), R"({"name":"old)" + std::to_string(seq) + R"("})", value);
    wb.Put(handles[1], internal::SeqKey(seq), value);
  }
  wb.Put(handles[3], internal::kHeadKey, internal::SeqKey(head));
  wb.Put(handles[3], internal::CursorKey("up"), internal::SeqKey(head));
  ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &wb).ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  ASSERT_TRUE(db->Close().ok());
}

std::vector<std::string> Names(const RecordBatch& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.emplace_back(r.json);
  return out;
}

TEST(SpanQueueSpansDbTest, AnOlderStoresSpansMoveIntoTheSpansDatabase) {
  testing::TempDir dir;
  WriteLegacyStore(dir.path(), /*head=*/4, /*last=*/10);
  {
    // A read-only view of the older store reads the spans where they are.
    auto ro = SpanQueue::OpenReadOnly(dir.path());
    ASSERT_TRUE(ro.has_value()) << ro.error().message;
    auto r = (*ro)->Read(0, 100, 1 << 20);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->size(), 7u);
    EXPECT_EQ(r->front().seq, 4u);
  }
  {
    auto q = MustOpen(DefaultOptions(dir.path()));
    ASSERT_TRUE(q);
    EXPECT_EQ(q->GetStats().spans, 7u);
    EXPECT_EQ(q->next_seq(), 11u);
    auto r = q->Read(0, 100, 1 << 20);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->size(), 7u);
    EXPECT_EQ(r->front().seq, 4u);
    EXPECT_EQ(r->front().json, R"({"name":"old4"})");
    EXPECT_EQ(r->front().received_ns, T(4));
    EXPECT_EQ(r->back().json, R"({"name":"old10"})");
    // New spans follow them.
    auto res = AppendAndWait(*q, MakeBatch(2, T(20)));
    ASSERT_TRUE(res.ok);
    EXPECT_EQ(res.first_seq, 11u);
    ASSERT_TRUE(q->Ack("up", 6));
    q->Close();
  }
  // The main database no longer has the spans column family.
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(internal::MakeDbOptions(), dir.path().string(), &families).ok());
  EXPECT_EQ(std::count(families.begin(), families.end(), internal::kSpansCf), 0);
  EXPECT_TRUE(fs::exists(dir.path() / internal::kSpansDbDir / "CURRENT"));
  // Reopened: the same spans, from the spans database alone.
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  auto r = q->Read(0, 100, 1 << 20);
  ASSERT_TRUE(r.has_value());
  auto names = Names(*r);
  ASSERT_EQ(names.size(), 7u);
  EXPECT_EQ(names.front(), R"({"name":"old6"})");
  EXPECT_EQ(names[4], R"({"name":"old10"})");
  EXPECT_EQ(names.back(), R"({"name":"s01"})");
}

// A spans database that cannot be opened at all is reported in the
// salvage's note, not passed over as if it held nothing.
TEST(SpanQueueSpansDbTest, SalvageReportsASpansDatabaseItCannotOpen) {
  testing::TempDir dir;
  {
    auto q = MustOpen(DefaultOptions(dir.path()));
    ASSERT_TRUE(q);
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(3, T(1))).ok);
    q->Close();
  }
  fs::remove_all(dir.path() / internal::kSpansDbDir);
  std::ofstream(dir.path() / internal::kSpansDbDir) << "not a database";
  auto r = Salvage(dir.path(), [](span::Batch&&) -> Status { return {}; });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->spans, 0u);
  EXPECT_NE(r->repair_note.find("spans database is missing"), std::string::npos) << r->repair_note;
  EXPECT_FALSE(r->complete());
}

// Found by the fuzzer (tests/fuzz/salvage_fuzz.cc): salvage re-queued any
// record whose JSON merely started with '{', so a torn or garbled span went
// back into the live queue, where the upstream encoders expect JSON objects.
TEST(SpanQueueSpansDbTest, SalvageSkipsRecordsThatAreNotJsonObjects) {
  testing::TempDir dir;
  {
    auto q = MustOpen(DefaultOptions(dir.path()));
    ASSERT_TRUE(q);
    ASSERT_TRUE(AppendAndWait(*q, MakeBatch(2, T(1))).ok);
    q->Close();
  }
  {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(internal::MakeDbOptions(), (dir.path() / internal::kSpansDbDir).string(),
                                  internal::SpansDbDescriptors(nullptr), &handles, &raw)
                    .ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    uint64_t seq = 3;
    for (std::string_view damaged : {R"({"name":"torn)", R"({"name":"s"}{"name":"t"})", "{\xff}", "[1]"}) {
      internal::EncodeSpanValue(T(2), damaged, value);
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], internal::SeqKey(seq++), value).ok());
    }
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    ASSERT_TRUE(db->Close().ok());
  }
  std::vector<std::string> names;
  auto r = Salvage(dir.path(), [&](span::Batch&& b) -> Status {
    for (size_t i = 0; i < b.spans.size(); ++i) names.emplace_back(b.SpanAt(i));
    return {};
  });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->spans, 2u);
  EXPECT_EQ(r->unreadable, 4u);
  EXPECT_EQ(names, (std::vector<std::string>{R"({"name":"s00"})", R"({"name":"s01"})"}));
}

// The spans and the main database are written apart: a crash can leave the
// main one ahead (an acknowledgement persisted, the spans it covered not).
// Seqs must still never be handed out twice.
TEST(SpanQueueSpansDbTest, SeqsStayPastTheCursorsWhenTheSpansDatabaseIsBehind) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(FiveSpansDelivered(dir.path(), /*remove_consumer=*/false));
  // The spans database lost everything (as if its WAL had not reached the disk).
  fs::remove_all(dir.path() / internal::kSpansDbDir);
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->next_seq(), 6u);
  auto res = AppendAndWait(*q, MakeBatch(1, T(2)));
  ASSERT_TRUE(res.ok);
  EXPECT_EQ(res.first_seq, 6u);
  auto r = q->Read(0, 10, 1 << 20);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().seq, 6u);
}

}  // namespace
}  // namespace spanvault::buffer
