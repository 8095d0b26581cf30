#include "common/util.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "common/sharded_counter.h"

namespace spanvault {
namespace {

TEST(UtilTest, Rfc3339RoundTrip) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2024-05-01T10:00:00Z"), 1714557600LL * 1'000'000'000);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00+02:00"), 1714557600LL * 1'000'000'000);
  EXPECT_EQ(ParseRfc3339("2024-05-01 10:00:00.5z"), 1714557600LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(FormatRfc3339(1714557600LL * 1'000'000'000 + 500'000'000), "2024-05-01T10:00:00.5Z");
  EXPECT_EQ(FormatRfc3339(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(FormatRfc3339(123'456'789), "1970-01-01T00:00:00.123456789Z");
  EXPECT_EQ(FormatRfc3339(100), "1970-01-01T00:00:00.0000001Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339(1714557600LL * 1'000'000'000 + 10'000'000), "2024-05-01T10:00:00.01Z");
  for (const char* bad : {"", "2024-05-01", "2024-13-01T00:00:00Z", "2024-05-01T10:00:00", "2024-05-01T25:00:00Z",
                          "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00Zjunk", "2023-02-29T00:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(UtilTest, Durations) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("1s")->count(), 1000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(ParseDuration("2m")->count(), 120000);
  EXPECT_EQ(ParseDuration("7d")->count(), 7LL * 86400 * 1000);
  EXPECT_EQ(ParseDuration("3")->count(), 3000);
  EXPECT_FALSE(ParseDuration("fast"));
  EXPECT_FALSE(ParseDuration("-1s"));
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(7LL * 86400 * 1000)), "7d");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(200)), "200ms");
}

TEST(UtilTest, Sizes) {
  EXPECT_EQ(ParseSize("1GiB"), 1ull << 30);
  EXPECT_EQ(ParseSize("64KiB"), 65536u);
  EXPECT_EQ(ParseSize("100MB"), 100'000'000u);
  EXPECT_EQ(ParseSize("4096"), 4096u);
  EXPECT_FALSE(ParseSize("lots"));
  EXPECT_FALSE(ParseSize("1 parsec"));
  // from_chars reads "nan" and "inf": never a size (a NaN cast to an
  // integer is undefined behaviour).
  EXPECT_FALSE(ParseSize("nan"));
  EXPECT_FALSE(ParseSize("nanMiB"));
  EXPECT_FALSE(ParseSize("inf"));
  EXPECT_FALSE(ParseSize("1e400"));
}

TEST(UtilTest, DurationsRefuseNanAndInfinity) {
  EXPECT_FALSE(ParseDuration("nan"));
  EXPECT_FALSE(ParseDuration("nans"));
  EXPECT_FALSE(ParseDuration("infms"));
  EXPECT_FALSE(ParseDuration("1e300d"));
}

TEST(UtilTest, RandomIds) {
  std::string a = RandomHexId(16), b = RandomHexId(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

// Every add from every thread is in the sum, however the threads fall on the
// shards (more threads than shards here, so some share one).
TEST(ShardedCounterTest, SumsAddsFromManyThreads) {
  ShardedCounter c;
  EXPECT_EQ(c.Load(), 0u);
  constexpr int kThreads = ShardedCounter::kShards + 3;
  constexpr uint64_t kAdds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      for (uint64_t i = 0; i < kAdds; ++i) c.Add(t % 2 == 0 ? 1 : 3);
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t even = (kThreads + 1) / 2, odd = kThreads / 2;
  EXPECT_EQ(c.Load(), kAdds * (even * 1 + odd * 3));
  c.Add();
  EXPECT_EQ(c.Load(), kAdds * (even * 1 + odd * 3) + 1);
}

}  // namespace
}  // namespace spanvault
