// The dead-letter store (buffer/dead_letters.h) of a SpanQueue on a real
// RocksDB: add (and AddAsync), list (filters, newest first), bounds, replay
// into the queue, purge, persistence.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "buffer/dead_letters.h"
#include "buffer/span_queue.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

Options Opts(const std::filesystem::path& dir) {
  Options o;
  o.dir = dir;
  return o;
}

DeadLetter Letter(const std::string& upstream, int i, size_t pad = 0) {
  DeadLetter d;
  d.upstream = upstream;
  d.time_ns = 1'700'000'000'000'000'000 + i;
  d.seq = 100 + i;
  d.status = 400;
  d.reason = "HTTP 400 for a single span";
  d.response = R"({"error":"bad span )" + std::to_string(i) + R"("})";
  d.span_json = R"({"span_id":"d)" + std::to_string(i) + R"(","name":"x)" + std::string(pad, 'y') + R"("})";
  return d;
}

std::vector<std::string> SpanIds(const std::vector<DeadLetter>& v) {
  std::vector<std::string> out;
  for (const auto& d : v) out.push_back(nlohmann::json::parse(d.span_json)["span_id"].get<std::string>());
  return out;
}

TEST(DeadLetterStoreTest, AddListFilterAndPersist) {
  testing::TempDir dir;
  {
    auto q = SpanQueue::Open(Opts(dir.path()));
    ASSERT_TRUE(q);
    ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 1), Letter("b", 2)}));
    ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 3)}));
    auto all = (*q)->dead_letters().List({}, 100);
    ASSERT_TRUE(all);
    EXPECT_EQ(SpanIds(*all), (std::vector<std::string>{"d3", "d2", "d1"}));  // newest first
    EXPECT_EQ((*all)[0].id, 3u);
    EXPECT_EQ((*all)[0].upstream, "a");
    EXPECT_EQ((*all)[0].status, 400);
    EXPECT_EQ((*all)[0].seq, 103u);
    EXPECT_EQ((*all)[0].time_ns, 1'700'000'000'000'000'003);
    EXPECT_EQ((*all)[0].response, R"({"error":"bad span 3"})");
    EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({{}, "a"}, 100)), (std::vector<std::string>{"d3", "d1"}));
    EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({{2}, ""}, 100)), (std::vector<std::string>{"d2"}));
    EXPECT_EQ((*q)->dead_letters().List({}, 1)->size(), 1u);
    EXPECT_EQ((*q)->GetStats().dead_letters, 3u);
    EXPECT_EQ((*q)->GetStats().dead_letters_total, 3u);
    // The JSON form carries the span as an object, not a string.
    auto j = nlohmann::json::parse((*all)[0].ToJson());
    EXPECT_EQ(j["span"]["span_id"], "d3");
    EXPECT_EQ(j["upstream"], "a");
    EXPECT_EQ(j["id"], 3);
  }
  auto q = SpanQueue::Open(Opts(dir.path()));
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)->GetStats().dead_letters, 3u);
  ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 4)}));
  auto all = (*q)->dead_letters().List({}, 100);
  EXPECT_EQ(all->front().id, 4u) << "ids continue after a restart";
  // A read-only view (the CLI while the daemon runs) sees them too.
  auto ro = SpanQueue::OpenReadOnly(dir.path());
  ASSERT_TRUE(ro) << ro.error().message;
  EXPECT_EQ(SpanIds(*(*ro)->dead_letters().List({}, 100)), (std::vector<std::string>{"d4", "d3", "d2", "d1"}));
}

TEST(DeadLetterStoreTest, BoundedByEntriesAndBytesDroppingTheOldest) {
  testing::TempDir dir;
  Options o = Opts(dir.path());
  o.dead_letter_max_entries = 5;
  o.dead_letter_max_bytes = 1 << 20;
  {
    auto q = SpanQueue::Open(o);
    ASSERT_TRUE(q);
    for (int i = 1; i <= 8; ++i) ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", i)}));
    EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({}, 100)), (std::vector<std::string>{"d8", "d7", "d6", "d5", "d4"}));
    EXPECT_EQ((*q)->GetStats().dead_letters_dropped, 3u);
  }
  {
    auto q = SpanQueue::Open(o);  // the floor persisted: nothing dropped comes back
    ASSERT_TRUE(q);
    EXPECT_EQ((*q)->GetStats().dead_letters, 5u);
  }
  o.dead_letter_max_entries = 1000;
  o.dead_letter_max_bytes = 3000;  // ~2 letters of ~1.2 KB
  auto q = SpanQueue::Open(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 20, 1000)}));
  ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 21, 1000)}));
  ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 22, 1000)}));
  EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({}, 100)), (std::vector<std::string>{"d22", "d21"}));
}

TEST(DeadLetterStoreTest, ReplayQueuesTheSpansAgainAndRemovesThem) {
  testing::TempDir dir;
  auto q = SpanQueue::Open(Opts(dir.path()));
  ASSERT_TRUE(q);
  ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 1), Letter("b", 2), Letter("a", 3)}));
  const uint64_t next = (*q)->next_seq();
  auto n = (*q)->dead_letters().Replay({{}, "a"});
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2u);
  auto recs = (*q)->Read(next, 100, 1 << 20);
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[0].json, Letter("a", 1).span_json) << "oldest first, byte for byte";
  EXPECT_EQ((*recs)[1].json, Letter("a", 3).span_json);
  EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({}, 100)), (std::vector<std::string>{"d2"}));
  EXPECT_EQ(*(*q)->dead_letters().Replay({{999}, ""}), 0u);
}

TEST(DeadLetterStoreTest, PurgeDeletesTheSelection) {
  testing::TempDir dir;
  auto q = SpanQueue::Open(Opts(dir.path()));
  ASSERT_TRUE(q);
  ASSERT_TRUE((*q)->dead_letters().Add({Letter("a", 1), Letter("b", 2), Letter("a", 3), Letter("c", 4)}));
  EXPECT_EQ(*(*q)->dead_letters().Purge({{1, 4}, ""}), 2u);
  EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({}, 100)), (std::vector<std::string>{"d3", "d2"}));
  EXPECT_EQ(*(*q)->dead_letters().Purge({}), 2u);
  EXPECT_EQ((*q)->dead_letters().List({}, 100)->size(), 0u);
  EXPECT_EQ((*q)->GetStats().dead_letters, 0u);
}

TEST(DeadLetterStoreTest, AddAsyncStoresOnTheWorkerThreadAndFailsAtOnceAfterClose) {
  testing::TempDir dir;
  auto q = SpanQueue::Open(Opts(dir.path()));
  ASSERT_TRUE(q.has_value()) << q.error().message;
  std::promise<std::pair<bool, std::thread::id>> done;
  (*q)->dead_letters().AddAsync({Letter("a", 1)}, [&](Status st) {
    done.set_value({static_cast<bool>(st), std::this_thread::get_id()});
  });
  auto [ok, thread] = done.get_future().get();
  EXPECT_TRUE(ok);
  EXPECT_NE(thread, std::this_thread::get_id()) << "ran on the queue's worker, not the caller";
  EXPECT_EQ(SpanIds(*(*q)->dead_letters().List({}, 10)), (std::vector<std::string>{"d1"}));
  EXPECT_EQ((*q)->dead_letters().entries(), 1u);
  EXPECT_EQ((*q)->GetStats().dead_letters_total, 1u);

  (*q)->Close();
  std::optional<Status> after;
  (*q)->dead_letters().AddAsync({Letter("a", 2)}, [&](Status st) { after = std::move(st); });
  ASSERT_TRUE(after.has_value()) << "answered at once, on the calling thread";
  ASSERT_FALSE(*after);
  EXPECT_EQ(after->error().code, Error::Code::kUnavailable);
}

}  // namespace
}  // namespace spanvault::buffer
