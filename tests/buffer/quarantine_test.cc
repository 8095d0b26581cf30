// The quarantine (buffer/quarantine.h) of a SpanQueue on a real RocksDB:
// entries written with their batch, listed newest first, bounded by entries
// and bytes, ids that keep increasing across a reopen, stats, Close.
#include "buffer/quarantine.h"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "buffer/span_queue.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

namespace fs = std::filesystem;

using testing::MakeRejection;  // tests/test_util.h

StoreResult AppendAndWait(SpanQueue& q, span::Batch b) {
  std::promise<StoreResult> p;
  auto f = p.get_future();
  q.Append(std::move(b), false, [&p](const StoreResult& r) { p.set_value(r); });
  return f.get();
}

Options DefaultOptions(const fs::path& dir) {
  Options o;
  o.dir = dir;
  o.fsync_interval = std::chrono::hours(1);
  return o;
}

std::unique_ptr<SpanQueue> MustOpen(const Options& o) {
  auto q = SpanQueue::Open(o);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().message);
  return q ? std::move(*q) : nullptr;
}

TEST(QuarantineTest, IsBoundedAndListedNewestFirst) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.quarantine_max_entries = 3;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  span::Batch b;
  for (int i = 0; i < 5; ++i) b.quarantine.push_back(MakeRejection(i));
  b.quarantine[4].rejection.excerpt = std::string("bad \xff\xfe utf8");
  b.quarantine[4].source = {span::Transport::kUnixStream, 42, 1000, 1001};
  b.quarantine[4].rejection.index = -1;
  b.quarantine[4].rejection.kind = span::RejectKind::kEncoding;
  ASSERT_TRUE(AppendAndWait(*q, std::move(b)).ok);

  auto entries = q->quarantine().List(10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].id, 5u);
  EXPECT_EQ((*entries)[1].id, 4u);
  EXPECT_EQ((*entries)[2].id, 3u);

  auto newest = nlohmann::json::parse((*entries)[0].json, nullptr, false);
  ASSERT_TRUE(newest.is_object()) << (*entries)[0].json;
  EXPECT_EQ(newest["time"], FormatRfc3339(1'700'000'000'000'000'004));
  EXPECT_EQ(newest["transport"], "unix_stream");
  EXPECT_EQ(newest["pid"], 42);
  EXPECT_EQ(newest["uid"], 1000);
  EXPECT_EQ(newest["gid"], 1001);
  EXPECT_EQ(newest["kind"], "encoding");
  EXPECT_FALSE(newest.contains("index"));
  EXPECT_EQ(newest["reason"], "bad json 4");
  EXPECT_EQ(newest["excerpt"], "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8");  // U+FFFD twice

  auto older = nlohmann::json::parse((*entries)[1].json, nullptr, false);
  ASSERT_TRUE(older.is_object());
  EXPECT_EQ(older["transport"], "udp");
  EXPECT_EQ(older["kind"], "syntax");
  EXPECT_EQ(older["index"], 3);
  EXPECT_FALSE(older.contains("pid"));
  EXPECT_FALSE(older.contains("uid"));
  EXPECT_FALSE(older.contains("gid"));
  EXPECT_EQ(older["excerpt"], "{oops");

  auto limited = q->quarantine().List(1);
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ((*limited)[0].id, 5u);

  Stats st = q->GetStats();
  EXPECT_EQ(st.quarantined, 3u);
  EXPECT_EQ(st.quarantined_total, 5u);

  // Later entries push the oldest out; ids keep increasing across a reopen.
  span::Batch more;
  more.quarantine.push_back(MakeRejection(9));
  ASSERT_TRUE(AppendAndWait(*q, std::move(more)).ok);
  q.reset();
  q = MustOpen(o);
  ASSERT_TRUE(q);
  entries = q->quarantine().List(10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].id, 6u);
  EXPECT_EQ((*entries)[2].id, 4u);
  span::Batch last;
  last.quarantine.push_back(MakeRejection(10));
  ASSERT_TRUE(AppendAndWait(*q, std::move(last)).ok);
  EXPECT_EQ((*q->quarantine().List(1))[0].id, 7u);
}

TEST(QuarantineTest, IsBoundedByBytes) {
  testing::TempDir dir;
  Options o = DefaultOptions(dir.path());
  o.quarantine_max_bytes = 1000;
  auto q = MustOpen(o);
  ASSERT_TRUE(q);
  for (int i = 0; i < 10; ++i) {
    span::Batch b;
    b.quarantine.push_back(MakeRejection(i));
    b.quarantine.back().rejection.excerpt = std::string(300, 'x');
    ASSERT_TRUE(AppendAndWait(*q, std::move(b)).ok);
  }
  auto entries = q->quarantine().List(100);
  ASSERT_TRUE(entries);
  uint64_t bytes = 0;
  for (const auto& e : *entries) bytes += 8 + e.json.size();
  EXPECT_LE(bytes, 1000u);
  EXPECT_GE(entries->size(), 2u);
  EXPECT_EQ(entries->front().id, 10u);
  EXPECT_EQ(q->GetStats().quarantined, entries->size());
}

TEST(QuarantineTest, CountsInMemoryAndRefusesListsAfterClose) {
  testing::TempDir dir;
  auto q = MustOpen(DefaultOptions(dir.path()));
  ASSERT_TRUE(q);
  span::Batch b;
  for (int i = 0; i < 3; ++i) b.quarantine.push_back(MakeRejection(i));
  ASSERT_TRUE(AppendAndWait(*q, std::move(b)).ok);
  EXPECT_EQ(q->quarantine().entries(), 3u);
  EXPECT_EQ(q->quarantine().total(), 3u);
  EXPECT_EQ(q->GetStats().quarantined, 3u);
  q->Close();
  auto listed = q->quarantine().List(10);
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code, Error::Code::kUnavailable);
}

}  // namespace
}  // namespace spanvault::buffer
