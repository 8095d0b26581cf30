// The hardware CRC-32C that RocksDB's WAL checksums are routed to
// (buffer/crc32c_hw.cc): the same values as RocksDB's own code, really
// linked in, and a WAL written with it reads back whole and rejects a
// flipped byte.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "buffer/store_format.h"
#include "tests/test_util.h"

namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);  // util/crc32c.h, not installed
}
extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);

namespace spanvault::buffer::internal {
namespace {

TEST(Crc32cTest, KnownValues) {
  // The check value of CRC-32C (RFC 3720, B.4) and the empty string.
  EXPECT_EQ(Crc32cExtend(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cExtend(0, "", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32cExtend(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Crc32cTest, SameAsRocksDbForEveryLengthAlignmentAndSeed) {
  std::mt19937_64 rng(42);
  std::vector<char> buf(4096 + 16);
  for (auto& c : buf) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 300; ++n) {
      uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(Crc32cExtend(seed, buf.data() + offset, n), Crc32cExtendRocksDb(seed, buf.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
  // Runs long enough for the three-lane path (768 bytes and more), with the
  // single-chain head and tail around it.
  std::vector<char> big(100'000);
  for (auto& c : big) c = static_cast<char>(rng());
  for (size_t n : {767u, 768u, 769u, 1535u, 1536u, 2311u, 4096u, 32761u, 99'990u}) {
    for (size_t offset : {0u, 3u, 8u}) {
      uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(Crc32cExtend(seed, big.data() + offset, n), Crc32cExtendRocksDb(seed, big.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
  std::string zeros(3000, '\0');
  EXPECT_EQ(Crc32cExtend(0x12345678, zeros.data(), zeros.size()),
            Crc32cExtendRocksDb(0x12345678, zeros.data(), zeros.size()));
  // Extending in pieces is the same as one pass (RocksDB extends a record's
  // type byte, then its payload).
  uint32_t whole = Crc32cExtend(0, buf.data(), 4096);
  uint32_t parts =
      Crc32cExtend(Crc32cExtend(Crc32cExtend(0, buf.data(), 1), buf.data() + 1, 1000), buf.data() + 1001, 3095);
  EXPECT_EQ(parts, whole);
  EXPECT_EQ(whole, Crc32cExtendRocksDb(0, buf.data(), 4096));
}

TEST(Crc32cTest, RocksDbCallsReachTheWrapper) {
  // This binary links like spanvaultd (sv_buffer's link options): a call
  // to rocksdb::crc32c::Extend from outside RocksDB's crc32c.o is the wrapper.
  EXPECT_EQ(reinterpret_cast<void*>(&rocksdb::crc32c::Extend),
            reinterpret_cast<void*>(&__wrap__ZN7rocksdb6crc32c6ExtendEjPKcm));
  __builtin_cpu_init();
  EXPECT_STREQ(Crc32cImplementation(), __builtin_cpu_supports("sse4.2") ? "sse4.2" : "rocksdb-portable");
}

TEST(Crc32cTest, WalWrittenWithItRecoversAndDetectsCorruption) {
  testing::TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.avoid_flush_during_shutdown = true;  // the keys stay in the WAL only
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  const std::string path = (dir.path() / "db").string();
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k" + std::to_string(i), std::string(1000, 'a' + i % 26)).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }
  std::filesystem::path wal;
  for (const auto& e : std::filesystem::directory_iterator(path)) {
    if (e.path().extension() == ".log" && std::filesystem::file_size(e.path()) > 100000) wal = e.path();
  }
  ASSERT_FALSE(wal.empty()) << "no WAL holding the keys";
  std::filesystem::copy(path, dir.path() / "copy");
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < 200; ++i) {
      std::string v;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "k" + std::to_string(i), &v).ok()) << i;
      EXPECT_EQ(v, std::string(1000, 'a' + i % 26));
    }
  }
  // One flipped byte in a record's payload: the checksum no longer matches.
  std::filesystem::path copy_wal = dir.path() / "copy" / wal.filename();
  {
    std::fstream f(copy_wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(50000);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(50000);
    f.write(&c, 1);
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, (dir.path() / "copy").string(), &raw);
  delete raw;
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

}  // namespace
}  // namespace spanvault::buffer::internal
