// The rate windows of `spanvault status`: the arithmetic without a clock,
// then a running daemon's status document.
#include "observe/rates.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "tests/daemon/file_config_fixture.h"
#include "tests/upstream/fake_backend.h"

namespace spanvault::observe {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(CounterWindowTest, RateIsGrowthOverTheTimeBetweenOldestAndNewestSample) {
  struct Case {
    const char* name;
    std::vector<std::pair<int64_t, uint64_t>> samples;  // (t_ns, value)
    double per_second;
    double window_seconds;
  };
  const std::vector<Case> cases = {
      {"no sample", {}, 0, 0},
      {"one sample", {{0, 100}}, 0, 0},
      {"two samples", {{0, 100}, {kSecond, 160}}, 60, 1},
      {"less than a minute: the window is what there is", {{0, 0}, {kSecond, 10}, {2 * kSecond, 30}}, 15, 2},
      {"uneven spacing", {{0, 0}, {kSecond / 2, 10}, {2 * kSecond, 40}}, 20, 2},
      {"idle", {{0, 7}, {kSecond, 7}, {2 * kSecond, 7}}, 0, 2},
      {"the counter went down: starts again", {{0, 500}, {kSecond, 600}, {2 * kSecond, 10}, {3 * kSecond, 40}}, 30, 1},
      {"time did not move: starts again", {{kSecond, 5}, {kSecond, 9}}, 0, 0},
  };
  for (const Case& c : cases) {
    CounterWindow w;
    for (auto [t, v] : c.samples) w.Add(t, v);
    EXPECT_DOUBLE_EQ(w.PerSecond(), c.per_second) << c.name;
    EXPECT_DOUBLE_EQ(w.WindowSeconds(), c.window_seconds) << c.name;
  }
}

TEST(CounterWindowTest, KeepsTheLastMinuteOf61Samples) {
  CounterWindow w;
  // 10 spans/s for 100 s, then 70 spans/s for 30 s: the last minute holds
  // 30 s of each.
  uint64_t total = 0;
  int64_t t = 0;
  for (int i = 0; i <= 100; ++i, t += kSecond) w.Add(t, total += (i == 0 ? 0 : 10));
  for (int i = 0; i < 30; ++i, t += kSecond) w.Add(t, total += 70);
  EXPECT_DOUBLE_EQ(w.WindowSeconds(), 60);
  EXPECT_DOUBLE_EQ(w.PerSecond(), (30 * 10 + 30 * 70) / 60.0);
}

TEST(RateSamplerTest, UpstreamWindowsFollowNameAndForwarderInstance) {
  RateSampler s;
  std::array<uint64_t, span::kTransportCount> accepted{};
  auto record = [&](int64_t t, std::vector<RateSampler::UpstreamSample> ups) { s.Record(t, accepted, ups); };
  record(0, {{"a", 1, 0}, {"b", 2, 0}});
  accepted[static_cast<size_t>(span::Transport::kUdp)] = 50;
  record(kSecond, {{"a", 1, 100}, {"b", 2, 40}});
  EXPECT_DOUBLE_EQ(s.transport(span::Transport::kUdp).PerSecond(), 50);
  EXPECT_DOUBLE_EQ(s.transport(span::Transport::kUnixStream).PerSecond(), 0);
  EXPECT_DOUBLE_EQ(s.upstream("a", 1)->PerSecond(), 100);
  EXPECT_DOUBLE_EQ(s.upstream("b", 2)->PerSecond(), 40);
  // "a" got a new forwarder (a reload) whose counter is already higher than
  // the old one's: its window starts again all the same. "b" is gone.
  record(2 * kSecond, {{"a", 3, 150}});
  EXPECT_EQ(s.upstream("b", 2), nullptr);
  EXPECT_EQ(s.upstream("a", 1), nullptr) << "the old forwarder's window is gone";
  EXPECT_DOUBLE_EQ(s.upstream("a", 3)->WindowSeconds(), 0);
  EXPECT_DOUBLE_EQ(s.upstream("a", 3)->PerSecond(), 0);
  record(3 * kSecond, {{"a", 3, 160}});
  EXPECT_DOUBLE_EQ(s.upstream("a", 3)->PerSecond(), 10);
  EXPECT_DOUBLE_EQ(s.transport(span::Transport::kUdp).WindowSeconds(), 3);
}

}  // namespace
}  // namespace spanvault::observe

namespace spanvault::testing {
namespace {

using namespace std::chrono_literals;
using RatesTest = FileConfigFixture;

TEST_F(RatesTest, StatusReportsIntakeAndDeliveredRatesOverTheWindow) {
  FakeBackend backend;
  backend.Start();
  const auto started = std::chrono::steady_clock::now();
  Start({{"main", backend.url(), ""}});
  auto c = Connect();
  const int n = 120;
  ASSERT_EQ(SendSync(c, Spans(Ids("r", n)))["accepted"], n);
  ASSERT_TRUE(backend.WaitForUniqueSpans(n, 20s));
  // Samples are taken at start and every second after: wait for the first
  // sample whose newest holds all n spans (accepted and delivered) and whose
  // oldest none, i.e. the growth over the window is exactly n.
  nlohmann::json s;
  auto growth = [](const nlohmann::json& rate_per_second, const nlohmann::json& window_seconds) {
    return rate_per_second.get<double>() * window_seconds.get<double>();
  };
  ASSERT_TRUE(spanvault::testing::WaitFor(
      [&] {
        s = Status();
        return std::abs(growth(s["transports"]["unix_stream"]["spans_per_second_1m"], s["rate_window_seconds"]) - n) <
                   1e-6 &&
               std::abs(growth(s["upstreams"][0]["delivered_per_second_1m"], s["upstreams"][0]["rate_window_seconds"]) -
                        n) < 1e-6;
      },
      20s))
      << s.dump();
  const double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double window = s["rate_window_seconds"].get<double>();
  // One sample a second from the start: a whole number of seconds, at least
  // one, and no more than the daemon has run.
  EXPECT_GE(window, 0.9);
  EXPECT_NEAR(window, std::round(window), 0.1) << "samples are 1 s apart";
  EXPECT_LE(window, age);
  const nlohmann::json& stream = s["transports"]["unix_stream"];
  EXPECT_NEAR(stream["spans_per_second_1m"].get<double>(), n / window, 1e-9) << s.dump();
  EXPECT_EQ(s["transports"]["udp"]["spans_per_second_1m"], 0.0);
  EXPECT_EQ(s["transports"]["unix_dgram"]["spans_per_second_1m"], 0.0);
  const nlohmann::json& up = s["upstreams"][0];
  double up_window = up["rate_window_seconds"].get<double>();
  EXPECT_DOUBLE_EQ(up_window, window) << "the forwarder ran from the start";
  EXPECT_NEAR(up["delivered_per_second_1m"].get<double>(), n / up_window, 1e-9) << s.dump();

  // A changed upstream gets a new forwarder (its counter starts at 0): its
  // window starts again, the transports' goes on.
  FakeBackend other;
  other.Start();
  ASSERT_TRUE(Reload({{"main", other.url(), ""}}).ok());
  s = Status();
  EXPECT_LT(s["upstreams"][0]["rate_window_seconds"].get<double>(), 1.1);
  EXPECT_EQ(s["upstreams"][0]["delivered_spans"], 0);
  EXPECT_EQ(s["upstreams"][0]["delivered_per_second_1m"], 0.0);
  EXPECT_GE(s["rate_window_seconds"].get<double>(), window);
}

}  // namespace
}  // namespace spanvault::testing
