#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "tests/test_util.h"

namespace spanvault::daemon {
namespace {

using spanvault::testing::TempDir;

Config Load(const std::string& toml, std::vector<std::string> sets, std::vector<std::string>* problems,
            bool env = false) {
  static TempDir dir;
  std::string path = dir.str() + "/c.toml";
  std::ofstream(path) << toml;
  LoadOptions lo;
  lo.config_file = path;
  lo.sets = std::move(sets);
  lo.use_environment = env;
  return LoadConfig(lo, problems);
}

TEST(ConfigTest, DefaultsAreValid) {
  std::vector<std::string> p;
  Config c = Load("", {}, &p);
  EXPECT_TRUE(p.empty()) << p.front();
  EXPECT_EQ(c.ingest.udp, "127.0.0.1:4319");
  EXPECT_EQ(c.ingest.unix_stream, "spans.sock");
  EXPECT_EQ(c.buffer.durability, buffer::Durability::kProcess);
  EXPECT_EQ(c.buffer.fsync_interval, std::chrono::seconds(1));
  EXPECT_EQ(c.buffer.max_disk_bytes, 1ull << 30);
  EXPECT_EQ(c.buffer.max_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.ingest.max_span_bytes, 1u << 20);
  EXPECT_EQ(c.ingest.max_udp_datagram_bytes, 64u << 10);
  EXPECT_EQ(c.ingest.max_unix_datagram_bytes, 256u << 10);
  EXPECT_EQ(c.ingest.max_depth, 64u);
  EXPECT_EQ(c.buffer.dir, c.state_dir / "buffer");
}

TEST(ConfigTest, FileThenEnvironmentThenFlags) {
  setenv("SPANVAULT_BUFFER_MAX_AGE", "2d", 1);
  setenv("SPANVAULT_INGEST_UDP", "127.0.0.1:5000", 1);
  std::vector<std::string> p;
  Config c = Load(R"(
state_dir = "/tmp/sv-state"
[ingest]
udp = "127.0.0.1:4000"
max_span_bytes = "2MiB"
[buffer]
durability = "machine"
fsync_interval = "250ms"
max_age = "1d"
on_full = "reject"
)",
                  {"ingest.udp=off"}, &p, /*env=*/true);
  unsetenv("SPANVAULT_BUFFER_MAX_AGE");
  unsetenv("SPANVAULT_INGEST_UDP");
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_EQ(c.state_dir, "/tmp/sv-state");
  EXPECT_EQ(c.ingest.max_span_bytes, 2u << 20);
  EXPECT_EQ(c.buffer.durability, buffer::Durability::kMachine);
  EXPECT_EQ(c.buffer.fsync_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(c.buffer.on_full, buffer::OnFull::kReject);
  EXPECT_EQ(c.buffer.max_age, std::chrono::hours(48));  // env beats file
  EXPECT_EQ(c.ingest.udp, "off");                       // flag beats env
}

TEST(ConfigTest, EveryProblemReportedAtOnce) {
  std::vector<std::string> p;
  Load(R"(
log_level = "loud"
colour = "blue"
[ingest]
udp = "0.0.0.0:4319"
max_depth = "deep"
[buffer]
durability = "forever"
max_disk_bytes = "12 bananas"
)",
       {}, &p);
  auto has = [&](const std::string& s) {
    for (auto& x : p) {
      if (x.find(s) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("unknown key \"colour\"")) << ::testing::PrintToString(p);
  EXPECT_TRUE(has("buffer.durability: value: \"forever\" is not \"process\" or \"machine\""));
  EXPECT_TRUE(has("buffer.max_disk_bytes"));
  EXPECT_TRUE(has("ingest.max_depth"));
  EXPECT_TRUE(has("log_level"));
  EXPECT_TRUE(has("not a loopback address; set ingest.allow_remote = true"));
  EXPECT_GE(p.size(), 6u);
}

TEST(ConfigTest, RemoteUdpAllowedExplicitly) {
  std::vector<std::string> p;
  Load("[ingest]\nudp = \"0.0.0.0:4319\"\nallow_remote = true\n", {}, &p);
  EXPECT_TRUE(p.empty());
}

TEST(ConfigTest, PriceTablesFromTomlArrayAndCommaList) {
  std::vector<std::string> p;
  Config c = Load("price_tables = [\"/etc/a.json\", \"litellm:/etc/b.json\"]\n", {}, &p);
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_EQ(c.price_tables, (std::vector<std::string>{"/etc/a.json", "litellm:/etc/b.json"}));
  Config d = Load("", {"price_tables=/x.toml, litellm:/y.json"}, &p);
  EXPECT_EQ(d.price_tables, (std::vector<std::string>{"/x.toml", "litellm:/y.json"}));
  Load("price_tables = [1, 2]\n", {}, &p);
  ASSERT_FALSE(p.empty());
  EXPECT_NE(p[0].find("expected an array of strings"), std::string::npos);
}

TEST(ConfigTest, HttpAllowedOriginsAndRequestsPerConnection) {
  std::vector<std::string> p;
  Config defaults = Load("", {}, &p);
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_TRUE(defaults.ingest.http_allowed_origins.empty());
  EXPECT_EQ(defaults.ingest.http_max_requests_per_connection, 1000u);
  // A TOML array; stored normalized (lowercase, default port left out).
  Config c = Load(R"(
[ingest]
http_allowed_origins = ["http://localhost:3000", "HTTPS://App.Example:443", "*"]
http_max_requests_per_connection = 50
)",
                  {}, &p);
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_EQ(c.ingest.http_allowed_origins,
            (std::vector<std::string>{"http://localhost:3000", "https://app.example", "*"}));
  EXPECT_EQ(c.ingest.http_max_requests_per_connection, 50u);
  // Comma-separated in the environment and --set; --set wins.
  setenv("SPANVAULT_INGEST_HTTP_ALLOWED_ORIGINS", "http://127.0.0.1:5173 , http://[::1]:5173", 1);
  Config e = Load("", {}, &p, /*env=*/true);
  unsetenv("SPANVAULT_INGEST_HTTP_ALLOWED_ORIGINS");
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_EQ(e.ingest.http_allowed_origins, (std::vector<std::string>{"http://127.0.0.1:5173", "http://[::1]:5173"}));
  Config f = Load("[ingest]\nhttp_allowed_origins = [\"http://a.example\"]\n", {"ingest.http_allowed_origins="}, &p);
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_TRUE(f.ingest.http_allowed_origins.empty());
  // A path, even "/", a missing scheme, or 0 requests: errors naming the key.
  for (const char* bad : {"http://localhost:3000/", "localhost:3000", "http://x/app"}) {
    p.clear();
    Load("", {std::string("ingest.http_allowed_origins=") + bad}, &p);
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_NE(p[0].find("ingest.http_allowed_origins"), std::string::npos) << p[0];
    EXPECT_NE(p[0].find("is not an origin"), std::string::npos) << p[0];
  }
  p.clear();
  Load("[ingest]\nhttp_max_requests_per_connection = 0\n", {}, &p);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("ingest.http_max_requests_per_connection must be at least 1"), std::string::npos);
  // Listed with their defaults; a change needs a restart like every ingest key.
  std::string keys = DescribeKeys();
  EXPECT_NE(keys.find("ingest.http_allowed_origins = []"), std::string::npos);
  EXPECT_NE(keys.find("ingest.http_max_requests_per_connection = 1000"), std::string::npos);
  EXPECT_EQ(ChangedKeys(defaults, c),
            (std::vector<std::string>{"ingest.http_max_requests_per_connection", "ingest.http_allowed_origins"}));
}

TEST(ConfigTest, TomlSyntaxErrorNamesLine) {
  std::vector<std::string> p;
  Load("state_dir = \n", {}, &p);
  ASSERT_FALSE(p.empty());
  EXPECT_NE(p[0].find(":1:"), std::string::npos) << p[0];
}

TEST(ConfigTest, SocketPathsRelativeToRuntimeDir) {
  std::vector<std::string> p;
  Config c = Load("runtime_dir = \"/run/x\"\n[ingest]\nunix_dgram = \"/tmp/abs.dgram\"\n", {}, &p);
  EXPECT_EQ(c.SocketPath(c.ingest.unix_stream), "/run/x/spans.sock");
  EXPECT_EQ(c.SocketPath(c.ingest.unix_dgram), "/tmp/abs.dgram");
  EXPECT_EQ(c.SocketPath("off"), "");
}

}  // namespace
}  // namespace spanvault::daemon

namespace spanvault::daemon {
namespace {

TEST(ConfigTest, UpstreamTablesWithHeadersAndRetrySubTables) {
  setenv("SV_CONFIG_TEST_TOKEN", "t0k", 1);
  std::vector<std::string> p;
  Config c = Load(R"(
shutdown_grace = "2s"
[[upstream]]
name = "collector"
endpoint = "https://otel.example.com:4318/v1/spans"
batch_max_spans = 100
linger = "50ms"
gzip = false
headers = { Authorization = "Bearer ${SV_CONFIG_TEST_TOKEN}", "X-Team" = "llm" }
retry = { initial = "1s", max = "2m" }

[[upstream]]
name = "second"
endpoint = "http://127.0.0.1:9000/"
concurrency = 8
[upstream.retry]
multiplier = 3
)",
                  {}, &p);
  unsetenv("SV_CONFIG_TEST_TOKEN");
  ASSERT_TRUE(p.empty()) << p.front();
  EXPECT_EQ(c.shutdown_grace, std::chrono::seconds(2));
  ASSERT_EQ(c.upstreams.size(), 2u);
  const auto& a = c.upstreams[0];
  EXPECT_EQ(a.name, "collector");
  EXPECT_EQ(a.batch_max_spans, 100u);
  EXPECT_EQ(a.linger, std::chrono::milliseconds(50));
  EXPECT_FALSE(a.gzip);
  EXPECT_EQ(a.retry.initial, std::chrono::seconds(1));
  EXPECT_EQ(a.retry.max, std::chrono::minutes(2));
  ASSERT_EQ(a.headers.size(), 2u);
  EXPECT_EQ(a.headers[0].second, "Bearer ${SV_CONFIG_TEST_TOKEN}") << "resolved when the forwarder starts";
  const auto& b = c.upstreams[1];
  EXPECT_EQ(b.concurrency, 8u);
  EXPECT_EQ(b.retry.multiplier, 3.0);
  EXPECT_EQ(b.batch_max_spans, 512u);
}

TEST(ConfigTest, UpstreamProblemsAreReportedWithTheirPlace) {
  unsetenv("SV_CONFIG_TEST_MISSING");
  std::vector<std::string> p;
  Load(R"(
[[upstream]]
name = "a"
endpoint = "http://127.0.0.1:1/"
timeout = "forever"
colour = "blue"

[[upstream]]
name = "a"
endpoint = "gopher://x"
headers = { Authorization = "${SV_CONFIG_TEST_MISSING}" }
)",
       {}, &p);
  std::string all;
  for (auto& x : p) all += x + "\n";
  EXPECT_NE(all.find("upstream[0].timeout"), std::string::npos) << all;
  EXPECT_NE(all.find("upstream[0].colour: unknown key"), std::string::npos) << all;
  EXPECT_NE(all.find("used twice"), std::string::npos) << all;
  EXPECT_NE(all.find("gopher"), std::string::npos) << all;
  EXPECT_NE(all.find("SV_CONFIG_TEST_MISSING is not set"), std::string::npos) << all;
}

}  // namespace
}  // namespace spanvault::daemon
