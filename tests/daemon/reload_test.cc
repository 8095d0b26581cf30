// Configuration reload in process: what reload.h decides (no I/O), then a
// running daemon forwarding to fake backends while its file is rewritten and
// reloaded.
#include "daemon/reload.h"

#include <gtest/gtest.h>

#include "common/log.h"
#include "tests/daemon/file_config_fixture.h"
#include "tests/upstream/fake_backend.h"

namespace spanvault::daemon {
namespace {

using upstream::UpstreamConfig;

UpstreamConfig Up(const std::string& name, const std::string& endpoint = "http://127.0.0.1:9/v1/spans") {
  UpstreamConfig u;
  u.name = name;
  u.endpoint = endpoint;
  return u;
}

TEST(ReloadPlanTest, UpstreamsAreMatchedByNameAndComparedOnEverySetting) {
  std::vector<std::pair<const char*, std::function<void(UpstreamConfig&)>>> changes = {
      {"endpoint", [](UpstreamConfig& u) { u.endpoint = "http://127.0.0.1:10/v1/spans"; }},
      {"format", [](UpstreamConfig& u) { u.format = "otlp-json"; }},
      {"dialect", [](UpstreamConfig& u) { u.dialect = "langfuse"; }},
      {"api_key", [](UpstreamConfig& u) { u.api_key = "k"; }},
      {"headers", [](UpstreamConfig& u) { u.headers.emplace_back("X-A", "1"); }},
      {"batch_max_spans", [](UpstreamConfig& u) { u.batch_max_spans = 7; }},
      {"batch_max_bytes", [](UpstreamConfig& u) { u.batch_max_bytes = 7000; }},
      {"linger", [](UpstreamConfig& u) { u.linger = std::chrono::milliseconds(7); }},
      {"gzip", [](UpstreamConfig& u) { u.gzip = false; }},
      {"gzip_level", [](UpstreamConfig& u) { u.gzip_level = 6; }},
      {"concurrency", [](UpstreamConfig& u) { u.concurrency = 9; }},
      {"timeout", [](UpstreamConfig& u) { u.timeout = std::chrono::seconds(3); }},
      {"retry.max", [](UpstreamConfig& u) { u.retry.max = std::chrono::seconds(3); }},
      {"retry.multiplier", [](UpstreamConfig& u) { u.retry.multiplier = 3; }},
      {"tls_ca_file", [](UpstreamConfig& u) { u.tls_ca_file = "/etc/ca.pem"; }},
      {"tls_insecure_skip_verify", [](UpstreamConfig& u) { u.tls_insecure_skip_verify = true; }},
      {"max_response_bytes", [](UpstreamConfig& u) { u.max_response_bytes = 4096; }},
  };
  for (const auto& [what, change] : changes) {
    UpstreamConfig b = Up("a");
    change(b);
    EXPECT_FALSE(SameUpstream(Up("a"), b)) << what;
  }
  EXPECT_TRUE(SameUpstream(Up("a"), Up("a")));

  std::vector<UpstreamConfig> running = {Up("keep"), Up("move"), Up("drop")};
  std::vector<UpstreamConfig> next = {Up("new"), Up("move", "http://127.0.0.1:10/v1/spans"), Up("keep")};
  UpstreamDiff d = DiffUpstreams(running, next);
  EXPECT_EQ(d.added, std::vector<std::string>{"new"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"drop"});
  EXPECT_EQ(d.changed, std::vector<std::string>{"move"});
  EXPECT_EQ(d.unchanged, std::vector<std::string>{"keep"});
}

TEST(ReloadPlanTest, OnlyLiveKeysApplyTheRestNeedsARestart) {
  Config a;
  a.state_dir = "/var/lib/spanvault";
  a.runtime_dir = "/run/spanvault";
  Config b = a;
  EXPECT_TRUE(RestartOnlyChanges(a, b).empty());
  b.log_level = "debug";
  b.shutdown_grace = std::chrono::seconds(1);
  b.price_tables = {"/etc/p.json"};
  b.upstreams.push_back(Up("x"));
  EXPECT_TRUE(RestartOnlyChanges(a, b).empty()) << "live keys and upstreams";
  EXPECT_EQ(ChangedKeys(a, b), (std::vector<std::string>{"log_level", "shutdown_grace", "price_tables"}));
  b.state_dir = "/tmp/other";
  b.ingest.udp = "off";
  b.ingest.unix_stream = "other.sock";
  b.buffer.max_age = std::chrono::hours(1);
  b.upstream_threads = 4;
  EXPECT_EQ(RestartOnlyChanges(a, b), (std::vector<std::string>{"state_dir", "ingest.unix_stream", "ingest.udp",
                                                                "buffer.max_age", "upstream_threads"}));
}

TEST(ReloadPlanTest, ReportJson) {
  ReloadReport r;
  EXPECT_TRUE(r.ok());
  r.changed = {"a"};
  r.failed.push_back({"b", "tls_ca_file /x: No such file"});
  r.prices_ok = false;
  r.prices_error = "p.json: bad";
  nlohmann::json j = r.ToJson();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["upstreams"]["changed"], nlohmann::json::array({"a"}));
  EXPECT_EQ(j["upstreams"]["failed"][0]["name"], "b");
  EXPECT_EQ(j["prices"]["error"], "p.json: bad");
  EXPECT_TRUE(j["config_errors"].empty());
}

}  // namespace
}  // namespace spanvault::daemon

namespace spanvault::testing {
namespace {

using namespace std::chrono_literals;
using ReloadTest = FileConfigFixture;

size_t WithPrefix(const FakeBackend& b, const std::string& prefix) {
  size_t n = 0;
  for (const auto& [id, count] : b.received_span_ids()) n += id.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

std::vector<std::string> Names(const nlohmann::json& upstreams) {
  std::vector<std::string> names;
  for (const auto& u : upstreams) names.push_back(u["name"]);
  return names;
}

std::vector<std::string> Consumers(const TempDir& dir) {
  auto q = buffer::SpanQueue::OpenReadOnly(dir.path() / "state" / "buffer");
  EXPECT_TRUE(q.has_value());
  return q ? (*q)->Consumers() : std::vector<std::string>{};
}

TEST_F(ReloadTest, ChangedUpstreamMovesToItsNewEndpointAndAnAddedOneStartsAtTheHead) {
  FakeBackend a, b, c;
  a.Start();
  b.Start();
  c.Start();
  Start({{"main", a.url(), ""}});
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("before", 20)))["accepted"], 20);
  ASSERT_TRUE(a.WaitForUniqueSpans(20, 20s));

  daemon::ReloadReport r = Reload({{"main", b.url(), ""}, {"extra", c.url(), ""}});
  EXPECT_TRUE(r.ok()) << r.ToJson().dump();
  EXPECT_EQ(r.changed, std::vector<std::string>{"main"});
  EXPECT_EQ(r.added, std::vector<std::string>{"extra"});
  EXPECT_TRUE(r.removed.empty());
  EXPECT_TRUE(r.unchanged.empty());
  EXPECT_TRUE(r.needs_restart.empty()) << r.ToJson().dump();

  // The same connection goes on; spans sent now go to B and C, not to A.
  ASSERT_EQ(SendSync(client, Spans(Ids("after", 30)), 2)["accepted"], 30);
  ASSERT_TRUE(b.WaitForUniqueSpans(30, 20s));
  ASSERT_TRUE(c.WaitForUniqueSpans(30, 20s));
  // No wait for A: its forwarder was stopped before Reload() returned, and
  // the "after" spans were sent later, so nothing can still bring them to A.
  EXPECT_EQ(WithPrefix(a, "after"), 0u);
  EXPECT_EQ(WithPrefix(b, "after"), 30u);
  EXPECT_EQ(WithPrefix(c, "before"), 0u) << "an added upstream starts at the head";
  nlohmann::json s = Status();
  EXPECT_EQ(Names(s["upstreams"]), (std::vector<std::string>{"main", "extra"}));
  EXPECT_EQ(s["upstreams"][0]["endpoint"], b.url());
  EXPECT_EQ(daemon_->config().upstreams.at(0).endpoint, b.url());
  EXPECT_TRUE(spanvault::testing::WaitFor([&] { return Status()["buffer"]["pending_spans"] == 0; }))
      << "both acknowledged everything";
}

TEST_F(ReloadTest, RemovedUpstreamStopsAndNoLongerHoldsSpansBack) {
  FakeBackend a, down;
  a.Start();
  down.Start();
  down.SetDown(true);
  Start({{"main", a.url(), ""}, {"extra", down.url(), ""}});
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("s", 50)))["accepted"], 50);
  ASSERT_TRUE(a.WaitForUniqueSpans(50, 20s));
  EXPECT_EQ(Status()["buffer"]["pending_spans"], 50) << "\"extra\" still needs them";

  daemon::ReloadReport r = Reload({{"main", a.url(), ""}});
  EXPECT_TRUE(r.ok()) << r.ToJson().dump();
  EXPECT_EQ(r.removed, std::vector<std::string>{"extra"});
  EXPECT_EQ(r.unchanged, std::vector<std::string>{"main"});
  EXPECT_TRUE(spanvault::testing::WaitFor([&] { return Status()["buffer"]["pending_spans"] == 0; }));
  EXPECT_EQ(Names(Status()["upstreams"]), std::vector<std::string>{"main"});
  EXPECT_EQ(Consumers(dir_), std::vector<std::string>{"main"});
  ASSERT_EQ(daemon_->config().upstreams.size(), 1u);
}

TEST_F(ReloadTest, UnchangedUpstreamKeepsItsForwarderAndItsRequestsInFlight) {
  FakeBackend a;
  a.Start();
  a.SetDefault({.delay = 800ms});
  Start({{"main", a.url(), ""}});
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("u", 20)))["accepted"], 20);
  ASSERT_TRUE(a.WaitForRequests(1, 20s));  // answered in 800 ms

  auto t0 = std::chrono::steady_clock::now();
  daemon::ReloadReport r = Reload({{"main", a.url(), ""}}, "shutdown_grace = \"2s\"");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms) << "nothing to stop";
  EXPECT_TRUE(r.ok()) << r.ToJson().dump();
  EXPECT_EQ(r.unchanged, std::vector<std::string>{"main"});
  EXPECT_TRUE(r.changed.empty());
  EXPECT_EQ(r.applied, std::vector<std::string>{"shutdown_grace"});
  EXPECT_EQ(daemon_->config().shutdown_grace, 2s);

  // The request in flight finishes; nothing is sent twice (a new forwarder
  // would send the unacknowledged batch again), and the same forwarder's
  // delivered counter keeps growing.
  ASSERT_TRUE(a.WaitForUniqueSpans(20, 20s));
  ASSERT_TRUE(WaitFor([](const nlohmann::json& s) { return s["upstreams"][0]["delivered_spans"] == 20; }));
  a.SetDefault({});
  ASSERT_EQ(SendSync(client, Spans(Ids("v", 10)), 2)["accepted"], 10);
  ASSERT_TRUE(WaitFor([](const nlohmann::json& s) { return s["upstreams"][0]["delivered_spans"] == 30; }));
  for (const auto& [id, n] : a.received_span_ids()) EXPECT_EQ(n, 1) << id;
}

TEST_F(ReloadTest, KeysThatNeedARestartAreReportedAndKeepTheirRunningValues) {
  Start({});
  const daemon::Config before = daemon_->config();
  const int udp_port = daemon_->udp_port();
  daemon::Config next = before;
  next.state_dir = dir_.path() / "elsewhere";
  next.buffer.dir = next.state_dir / "buffer";
  next.ingest.udp = "127.0.0.1:1";
  next.log_level = "error";
  daemon::ReloadReport r = daemon_->Reload(next);
  log::SetLevel(log::Level::kWarn);
  EXPECT_TRUE(r.ok()) << r.ToJson().dump();
  EXPECT_EQ(r.needs_restart, (std::vector<std::string>{"state_dir", "ingest.udp"}));
  EXPECT_EQ(r.applied, std::vector<std::string>{"log_level"});
  EXPECT_EQ(daemon_->config().state_dir, before.state_dir);
  EXPECT_EQ(daemon_->config().ingest.udp, before.ingest.udp);
  EXPECT_EQ(daemon_->config().log_level, "error");
  EXPECT_EQ(daemon_->udp_port(), udp_port);
  EXPECT_EQ(Status()["buffer"]["state_dir"], before.state_dir.string());
  EXPECT_FALSE(std::filesystem::exists(next.state_dir));
  auto client = Connect();
  EXPECT_EQ(SendSync(client, Spans(Ids("x", 5)))["accepted"], 5);
}

TEST_F(ReloadTest, AnInvalidConfigurationChangesNothing) {
  FakeBackend a, b;
  a.Start();
  b.Start();
  Start({{"main", a.url(), ""}});
  // Does not validate: "bad" has no usable endpoint. "main" stays on A.
  daemon::ReloadReport r = Reload({{"main", b.url(), ""}, {"bad", "ftp://127.0.0.1/x", ""}});
  EXPECT_FALSE(r.ok());
  ASSERT_FALSE(r.config_errors.empty());
  EXPECT_NE(r.config_errors.front().find("upstream bad"), std::string::npos) << r.config_errors.front();
  EXPECT_TRUE(r.changed.empty() && r.added.empty() && r.removed.empty() && r.unchanged.empty());
  // Does not parse.
  std::ofstream(dir_.str() + "/spanvault.toml") << "[[upstream]\nname = ";
  r = daemon_->ReloadFromSource();
  EXPECT_FALSE(r.config_errors.empty());
  // Does not exist.
  daemon_->SetReloadSource(Source(dir_.str() + "/missing.toml"));
  r = daemon_->ReloadFromSource();
  ASSERT_FALSE(r.config_errors.empty());
  EXPECT_NE(r.config_errors.front().find("missing.toml"), std::string::npos) << r.config_errors.front();

  EXPECT_EQ(daemon_->config().upstreams.at(0).endpoint, a.url());
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("k", 10)))["accepted"], 10);
  ASSERT_TRUE(a.WaitForUniqueSpans(10, 20s));
  EXPECT_EQ(b.unique_spans(), 0u);
}

TEST_F(ReloadTest, AnUpstreamWhoseForwarderCannotBeBuiltIsNotApplied) {
  FakeBackend a;
  a.Start();
  Start({{"main", a.url(), ""}});
  // Valid settings, but the CA file cannot be loaded: Forwarder::Create fails.
  std::string https = "https://127.0.0.1:" + std::to_string(a.port()) + "/v1/spans";
  std::string no_ca = "tls_ca_file = \"" + dir_.str() + "/missing-ca.pem\"";
  daemon::ReloadReport r = Reload({{"main", https, no_ca}, {"extra", https, no_ca}});
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.failed.size(), 2u) << r.ToJson().dump();
  EXPECT_EQ(r.failed[0].upstream, "main");
  EXPECT_NE(r.failed[0].error.find("tls_ca_file"), std::string::npos) << r.failed[0].error;
  EXPECT_EQ(r.failed[1].upstream, "extra");
  EXPECT_TRUE(r.changed.empty() && r.added.empty());
  // "main" keeps its old forwarder and settings; "extra" holds nothing back.
  EXPECT_EQ(daemon_->config().upstreams.size(), 1u);
  EXPECT_EQ(daemon_->config().upstreams.at(0).endpoint, a.url());
  EXPECT_EQ(Consumers(dir_), std::vector<std::string>{"main"});
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("m", 10)))["accepted"], 10);
  ASSERT_TRUE(a.WaitForUniqueSpans(10, 20s));
  EXPECT_EQ(Names(Status()["upstreams"]), std::vector<std::string>{"main"});
}

TEST_F(ReloadTest, ControlLineReloadsAndTheFirstUpstreamStartsTheUpstreamThreadsAndGetsTheBacklog) {
  FakeBackend a;
  a.Start();
  Start({});  // no upstream: no upstream thread runs yet
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("old", 10)))["accepted"], 10);
  WriteConfig(dir_, {{"main", a.url(), ""}});
  ASSERT_TRUE(client.Write("{\"$reload\":true}\n").has_value());
  auto line = client.ReadLine(30s);
  ASSERT_TRUE(line.has_value());
  nlohmann::json answer = nlohmann::json::parse(*line);
  EXPECT_EQ(answer["$reload"], true);
  EXPECT_EQ(answer["ok"], true) << answer.dump();
  EXPECT_EQ(answer["upstreams"]["added"], nlohmann::json::array({"main"}));
  ASSERT_EQ(SendSync(client, Spans(Ids("new", 20)), 2)["accepted"], 20);
  // Spans buffered while no upstream was configured go to the first one.
  ASSERT_TRUE(a.WaitForUniqueSpans(30, 20s));
  EXPECT_EQ(WithPrefix(a, "old"), 10u);
  EXPECT_EQ(WithPrefix(a, "new"), 20u);
}

TEST_F(ReloadTest, ControlLineReloadWaitingForAForwarderStallsNoOtherConnection) {
  // One I/O thread serves every connection. The reload replaces an upstream
  // whose request is in flight for 4 s, so it waits up to shutdown_grace
  // for it: that wait must not hold the I/O thread.
  const std::string top = "io_threads = 1\nshutdown_grace = \"6s\"";
  FakeBackend a, b;
  a.Start();
  b.Start();
  a.SetDefault({.delay = 4s});
  Start({{"main", a.url(), ""}}, top);
  auto client = Connect();
  ASSERT_EQ(SendSync(client, Spans(Ids("s", 5)))["accepted"], 5);
  ASSERT_TRUE(a.WaitForRequests(1, 20s));
  WriteConfig(dir_, {{"main", b.url(), ""}}, top);
  const auto t0 = std::chrono::steady_clock::now();
  // A barrier right behind the reload on the same connection: answered after it.
  ASSERT_TRUE(client.Write("{\"$reload\":true}\n" + Span("behind") + "\n{\"$sync\":7}\n").has_value());
  // The reload is running once it took the old forwarder out of the list
  // (it is stopping it now, waiting for the request in flight).
  ASSERT_TRUE(spanvault::testing::WaitFor([&] { return Status()["upstreams"].empty(); }, 10s));

  auto other = Connect();
  nlohmann::json answer = SendSync(other, Spans(Ids("o", 3)), 9);
  const auto other_answered = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(answer["accepted"], 3);
  EXPECT_LT(other_answered, 2500ms) << "another connection waited for the reload";

  auto line = client.ReadLine(30s);
  ASSERT_TRUE(line.has_value());
  const auto reload_answered = std::chrono::steady_clock::now() - t0;
  nlohmann::json r = nlohmann::json::parse(*line);
  EXPECT_EQ(r["$reload"], true);
  EXPECT_EQ(r["ok"], true) << r.dump();
  EXPECT_EQ(r["upstreams"]["changed"], nlohmann::json::array({"main"}));
  EXPECT_GT(reload_answered, other_answered) << "the reload did not wait for the request in flight";
  line = client.ReadLine(30s);
  ASSERT_TRUE(line.has_value());
  nlohmann::json sync = nlohmann::json::parse(*line);
  EXPECT_EQ(sync["$sync"], 7);
  EXPECT_EQ(sync["accepted"], 1) << "the span behind the reload is stored after it";
  // The request in flight finished within shutdown_grace: A has the first
  // five, the new endpoint everything after them.
  EXPECT_EQ(WithPrefix(a, "s"), 5u);
  ASSERT_TRUE(b.WaitForUniqueSpans(4, 20s));
  EXPECT_EQ(WithPrefix(b, "s"), 0u);
}

}  // namespace
}  // namespace spanvault::testing
