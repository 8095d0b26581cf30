// Salvage reads around damage (buffer/salvage.h): a real store (table files
// and a WAL, written by SpanQueue and RocksDB), copied, damaged in 4 KiB
// regions at the start, middle and end of its files, then salvaged. A
// damaged region may cost the spans it overwrote, never the ones after it, never a span twice, never a
// delivered one, never anything that is not one of the spans written.
// Each case prints "recovered X of Y" (figures for docs/durability.md).
#include "buffer/salvage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "buffer/dead_letters.h"
#include "buffer/salvage_scan.h"
#include "buffer/span_queue.h"
#include "buffer/store_format.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

namespace fs = std::filesystem;

constexpr int kFlushed = 30'000;   // in table files (three flushes)
constexpr int kInWal = 10'000;     // in the WAL only
constexpr int kDelivered = 1'000;  // acknowledged: below the head
constexpr size_t kRegion = 4096;

std::string SpanJson(uint64_t seq) {
  // ~600 bytes, a distinct name per seq.
  return R"({"name":"s)" + std::to_string(seq) + R"(","input":")" + std::string(560 + seq % 40, 'a' + seq % 26) +
         R"("})";
}

void Append(SpanQueue& q, uint64_t first, int n) {
  span::Batch b;
  b.received_ns = 1'800'000'000'000'000'000 + static_cast<int64_t>(first);
  for (int i = 0; i < n; ++i) {
    std::string j = SpanJson(first + i);
    b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(j.size())});
    b.data += j;
  }
  std::promise<StoreResult> p;
  auto f = p.get_future();
  q.Append(std::move(b), false, [&p](const StoreResult& r) { p.set_value(r); });
  ASSERT_TRUE(f.get().ok);
}

void FlushSpansDb(const fs::path& store) {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(internal::MakeDbOptions(), (store / internal::kSpansDbDir).string(),
                                internal::SpansDbDescriptors(nullptr), &handles, &raw)
                  .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), handles[0]).ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  ASSERT_TRUE(db->Close().ok());
}

// The pristine store, built once: seqs 1..kFlushed in three table files,
// the rest in the WAL, 1..kDelivered acknowledged.
const fs::path& PristineStore() {
  static testing::TempDir* dir = [] {
    auto* d = new testing::TempDir();
    for (int part = 0; part < 3; ++part) {
      Options o;
      o.dir = d->path();
      auto q = SpanQueue::Open(o);
      EXPECT_TRUE(q.has_value());
      if (part == 0) EXPECT_TRUE((*q)->AddConsumer("up"));
      for (int i = 0; i < kFlushed / 3; i += 1000) Append(**q, 1 + part * (kFlushed / 3) + i, 1000);
      (*q)->Close();
      FlushSpansDb(d->path());
    }
    Options o;
    o.dir = d->path();
    auto q = SpanQueue::Open(o);
    EXPECT_TRUE(q.has_value());
    for (int i = 0; i < kInWal; i += 1000) Append(**q, 1 + kFlushed + i, 1000);
    EXPECT_TRUE((*q)->Ack("up", kDelivered + 1));
    (*q)->Close();
    return d;
  }();
  return dir->path();
}

std::vector<fs::path> Files(const fs::path& store, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(store / internal::kSpansDbDir)) {
    if (e.path().extension() == ext && fs::file_size(e.path()) > 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Damage(const fs::path& file, uint64_t offset, uint64_t length, uint32_t seed) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f);
  std::mt19937 rng(seed);
  std::string junk(length, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

struct Outcome {
  SalvageResult result;
  std::vector<uint64_t> seqs;  // of the spans salvaged, in sink order
};

// Salvages `store`, checking that every span is one that was written,
// above the head, and taken once.
Outcome SalvageChecked(const fs::path& store, uint64_t head = kDelivered + 1) {
  Outcome out;
  auto r = Salvage(store, [&](span::Batch&& b) -> Status {
    for (size_t i = 0; i < b.spans.size(); ++i) {
      std::string json(b.SpanAt(i));
      uint64_t seq = std::stoull(json.substr(json.find("\"s") + 2));
      EXPECT_EQ(json, SpanJson(seq)) << "not a span that was written";
      out.seqs.push_back(seq);
    }
    return {};
  });
  EXPECT_TRUE(r.has_value()) << r.error().message;
  if (r) out.result = *r;
  std::set<uint64_t> unique(out.seqs.begin(), out.seqs.end());
  EXPECT_EQ(unique.size(), out.seqs.size()) << "a span was salvaged twice";
  EXPECT_TRUE(unique.empty() || *unique.begin() >= head) << "a delivered span came back";
  return out;
}

fs::path CopyOf(const fs::path& store, const testing::TempDir& into) {
  fs::path copy = into.path() / "store";
  fs::copy(store, copy, fs::copy_options::recursive);
  return copy;
}

constexpr uint64_t kTotal = kFlushed + kInWal - kDelivered;

TEST(SalvageTest, AnIntactStoreGivesEverySpanAboveTheHeadOnce) {
  const fs::path& store = PristineStore();
  ASSERT_GE(Files(store, ".sst").size(), 3u);
  ASSERT_EQ(Files(store, ".log").size(), 1u);
  Outcome o = SalvageChecked(store);
  EXPECT_EQ(o.result.spans, kTotal);
  EXPECT_EQ(o.result.head, static_cast<uint64_t>(kDelivered + 1));
  EXPECT_EQ(o.result.first_seq, static_cast<uint64_t>(kDelivered + 1));
  EXPECT_EQ(o.result.last_seq, static_cast<uint64_t>(kFlushed + kInWal));
  EXPECT_EQ(o.result.delivered, static_cast<uint64_t>(kDelivered));
  EXPECT_TRUE(o.result.complete()) << o.result.repair_note;
  EXPECT_EQ(o.result.repair_note, "");
  // Oldest first: the sink saw the seqs in order.
  EXPECT_TRUE(std::is_sorted(o.seqs.begin(), o.seqs.end()));
}

struct DamageCase {
  std::string name;
  std::string ext;                // ".sst" or ".log"
  size_t file;                    // index among those files
  std::vector<double> positions;  // where the 4 KiB regions start, as a share of the file
};

class SalvageDamageTest : public ::testing::TestWithParam<DamageCase> {};

TEST_P(SalvageDamageTest, DamageCostsOnlyTheSpansItOverwrote) {
  const DamageCase& c = GetParam();
  testing::TempDir tmp;
  fs::path copy = CopyOf(PristineStore(), tmp);
  std::vector<fs::path> files = Files(copy, c.ext);
  ASSERT_LT(c.file, files.size());
  const uint64_t size = fs::file_size(files[c.file]);
  for (size_t i = 0; i < c.positions.size(); ++i) {
    uint64_t at = std::min<uint64_t>(static_cast<uint64_t>(c.positions[i] * static_cast<double>(size)), size - kRegion);
    Damage(files[c.file], at, kRegion, 7 + static_cast<uint32_t>(i));
  }
  Outcome o = SalvageChecked(copy);
  const uint64_t lost = kTotal - o.result.spans;
  // A 4 KiB region overwrites at most 4096 / 600 + 2 whole or partial spans
  // (+1 in a WAL: a record header cut through a span in the damaged block).
  const uint64_t per_region = kRegion / 600 + 3;
  EXPECT_LE(lost, per_region * c.positions.size()) << o.result.repair_note;
  // What was lost is named: every lost seq below the last one found is in
  // the missing ranges (or counted unreadable).
  std::set<uint64_t> got(o.seqs.begin(), o.seqs.end());
  uint64_t lost_inside = 0;
  for (uint64_t s = kDelivered + 1; s < o.result.last_seq; ++s) lost_inside += got.count(s) == 0;
  EXPECT_EQ(o.result.missing_seqs, lost_inside) << o.result.repair_note;
  if (lost > 0) {
    EXPECT_FALSE(o.result.complete());
    EXPECT_FALSE(o.result.repair_note.empty());
  }
  std::printf("[ damage ] %-28s recovered %llu of %llu (lost %llu) — %s\n", c.name.c_str(),
              static_cast<unsigned long long>(o.result.spans), static_cast<unsigned long long>(kTotal),
              static_cast<unsigned long long>(lost), o.result.repair_note.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Regions, SalvageDamageTest,
    ::testing::Values(DamageCase{"table_start", ".sst", 0, {0.0}}, DamageCase{"table_middle", ".sst", 1, {0.5}},
                      DamageCase{"table_end_index_and_footer", ".sst", 2, {1.0}},
                      DamageCase{"table_two_regions", ".sst", 1, {0.3, 0.7}},
                      DamageCase{"table_ten_regions", ".sst", 0, {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0}},
                      DamageCase{"wal_start", ".log", 0, {0.0}}, DamageCase{"wal_middle", ".log", 0, {0.5}},
                      DamageCase{"wal_end", ".log", 0, {1.0}},
                      DamageCase{"wal_five_regions", ".log", 0, {0.1, 0.3, 0.5, 0.7, 0.9}}),
    [](const auto& info) { return info.param.name; });

// Every table file and the WAL damaged at once.
TEST(SalvageTest, DamageInEveryFileAtOnce) {
  testing::TempDir tmp;
  fs::path copy = CopyOf(PristineStore(), tmp);
  size_t regions = 0;
  for (const char* ext : {".sst", ".log"}) {
    for (const auto& f : Files(copy, ext)) {
      Damage(f, fs::file_size(f) / 2, kRegion, static_cast<uint32_t>(regions));
      ++regions;
    }
  }
  Outcome o = SalvageChecked(copy);
  EXPECT_GE(o.result.spans, kTotal - regions * (kRegion / 600 + 3)) << o.result.repair_note;
  EXPECT_FALSE(o.result.complete());
  std::printf("[ damage ] every_file_once              recovered %llu of %llu — %s\n",
              static_cast<unsigned long long>(o.result.spans), static_cast<unsigned long long>(kTotal),
              o.result.repair_note.c_str());
}

// The main database lost entirely (no head): every span is still found, and
// the ones below the old head come back (sent again, deduplicated by the
// backends' span ids) rather than anything being lost.
TEST(SalvageTest, WithoutTheMainDatabaseNothingIsLost) {
  testing::TempDir tmp;
  fs::path copy = CopyOf(PristineStore(), tmp);
  for (const auto& e : fs::directory_iterator(copy)) {
    if (e.is_regular_file()) fs::remove(e.path());
  }
  std::ofstream(copy / "CURRENT") << "MANIFEST-000001\n";
  auto r = Salvage(copy, [](span::Batch&&) -> Status { return {}; });
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->head, 0u);
  EXPECT_EQ(r->spans, static_cast<uint64_t>(kFlushed + kInWal));
}

// A spans database moved aside alone (while the daemon ran) carries the head
// it had in HEAD_SEQ: nothing below it comes back.
TEST(SalvageTest, ASpansDatabaseAloneTakesItsHeadFromHeadSeq) {
  testing::TempDir tmp;
  fs::path alone = tmp.path() / "spans-alone";
  fs::copy(PristineStore() / internal::kSpansDbDir, alone, fs::copy_options::recursive);
  std::ofstream(alone / kHeadFile) << 5001 << "\n";
  Outcome o = SalvageChecked(alone);
  EXPECT_EQ(o.result.head, 5001u);
  EXPECT_EQ(o.result.spans, static_cast<uint64_t>(kFlushed + kInWal - 5000));
  EXPECT_EQ(o.result.first_seq, 5001u);
}

// Damage found while the queue runs (a consumer's read meets a damaged
// block): the spans database is moved aside without a restart, the queue goes
// on with a fresh one, seqs continue, the consumer keeps its name and the
// dead letters stay; what was moved aside salvages to every span outside the
// damage and above the head.
TEST(SalvageTest, DamageFoundWhileRunningMovesTheSpansDatabaseAside) {
  testing::TempDir dir;
  std::mutex mu;
  std::vector<fs::path> moved;
  Options o;
  o.dir = dir.path();
  o.on_moved_aside = [&](const fs::path& p) {
    std::lock_guard lk(mu);
    moved.push_back(p);
  };
  {
    auto q = SpanQueue::Open(o);
    ASSERT_TRUE(q.has_value());
    ASSERT_TRUE((*q)->AddConsumer("up"));
    for (int i = 0; i < 3000; i += 1000) Append(**q, 1 + i, 1000);
    (*q)->Close();
  }
  FlushSpansDb(dir.path());
  auto q = SpanQueue::Open(o);
  ASSERT_TRUE(q.has_value());
  Append(**q, 3001, 100);  // in the WAL only
  ASSERT_TRUE((*q)->Ack("up", 101));
  DeadLetter letter;
  letter.upstream = "up";
  letter.seq = 50;
  letter.status = 400;
  letter.reason = "refused";
  letter.span_json = SpanJson(50);
  ASSERT_TRUE((*q)->dead_letters().Add({letter}));
  std::vector<fs::path> tables = Files(dir.path(), ".sst");
  ASSERT_EQ(tables.size(), 1u);
  Damage(tables[0], fs::file_size(tables[0]) / 2, kRegion, 3);

  auto read = (*q)->Read(101, 100'000, SIZE_MAX);
  ASSERT_FALSE(read.has_value()) << "the damage was not met";
  EXPECT_EQ(read.error().code, Error::Code::kCorruption) << read.error().message;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       (*q)->GetStats().stores_moved_aside == 0 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stats st = (*q)->GetStats();
  ASSERT_EQ(st.stores_moved_aside, 1u);
  fs::path aside;
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(moved.size(), 1u);
    aside = moved[0];
  }
  EXPECT_EQ(st.store_recovered_from, aside.string());
  EXPECT_EQ(aside.parent_path(), dir.path().parent_path()) << "beside the store, not inside it";
  EXPECT_TRUE(fs::exists(aside / kHeadFile));
  // The queue goes on: seqs continue, the consumer is there, the dead
  // letter too, and reads work.
  EXPECT_EQ(st.spans, 0u);
  EXPECT_EQ((*q)->next_seq(), 3101u);
  EXPECT_EQ((*q)->Consumers(), std::vector<std::string>{"up"});
  auto pos = (*q)->ConsumerPosition("up");
  ASSERT_TRUE(pos.has_value());
  EXPECT_EQ(*pos, 3101u);
  auto letters = (*q)->dead_letters().List({}, 10);
  ASSERT_TRUE(letters.has_value());
  EXPECT_EQ(letters->size(), 1u);
  Append(**q, 5000, 10);
  auto after = (*q)->Read(*pos, 100, SIZE_MAX);
  ASSERT_TRUE(after.has_value()) << after.error().message;
  ASSERT_EQ(after->size(), 10u);
  EXPECT_EQ(after->entries[0].seq, 3101u);
  (*q)->Close();

  // What was moved aside: every span above the head outside the damage.
  Outcome o2 = SalvageChecked(aside, /*head=*/101);
  EXPECT_EQ(o2.result.head, 101u);
  EXPECT_GE(o2.result.spans, 3000u - kRegion / 600 - 3);  // 101..3100, less the damage
  EXPECT_LT(o2.result.spans, 3000u);
  // And the store reopens as it was left, with nothing to move aside.
  auto again = SpanQueue::Open(o);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)->GetStats().stores_moved_aside, 0u);
  EXPECT_EQ((*again)->GetStats().spans, 10u);
}

// A sink error stops the salvage and is its result.
TEST(SalvageTest, ASinkErrorStopsIt) {
  int calls = 0;
  auto r = Salvage(PristineStore(), [&](span::Batch&&) -> Status {
    ++calls;
    return Fail(Error::Io("queue closed"));
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "queue closed");
  EXPECT_EQ(calls, 1);
}

// The WAL reader joins fragments across blocks and checks each record: a
// record written by hand in RocksDB's format reads back, and a flipped bit
// in its payload makes it count as damaged, not read.
TEST(SalvageScanTest, WalRecordsAreCheckedAndJoined) {
  auto record = [](uint8_t type, std::string_view payload) {
    char t = static_cast<char>(type);
    uint32_t crc = internal::Crc32cExtend(internal::Crc32cExtend(0, &t, 1), payload.data(), payload.size());
    uint32_t masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    std::string h(7, '\0');
    for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(masked >> (8 * i));
    h[4] = static_cast<char>(payload.size() & 0xff);
    h[5] = static_cast<char>(payload.size() >> 8);
    h[6] = t;
    return h + std::string(payload);
  };
  std::string value;
  internal::EncodeSpanValue(42, R"({"name":"w"})", value);
  std::string entry = std::string("\x01\x08", 2) + internal::SeqKey(7) + static_cast<char>(value.size()) + value;
  std::string batch = std::string(12, '\0') + entry;  // WriteBatch header: seq, count
  std::string wal = record(2, batch.substr(0, 10)) + record(4, batch.substr(10));
  internal::ScanCounts counts;
  std::string joined = internal::WalPayloads(wal, counts);
  EXPECT_EQ(joined, batch);
  std::vector<std::pair<uint64_t, std::string>> spans;
  internal::ScanWalStream(joined, [&](const internal::ScannedSpan& s, std::string_view json) {
    if (s.readable) spans.emplace_back(s.seq, std::string(json));
  });
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0], (std::pair<uint64_t, std::string>{7, R"({"name":"w"})"}));

  wal[wal.size() - 3] ^= 0x10;
  internal::ScanCounts damaged;
  internal::WalPayloads(wal, damaged);
  EXPECT_EQ(damaged.damaged_records, 1u);
}

}  // namespace
}  // namespace spanvault::buffer
