// Processors end to end: the real spanvaultd, configured by a TOML file,
// forwards the same spans to two fake upstreams — one raw, one through
// filter → redact → truncate — then reloads new rules (SIGHUP) and refuses a
// broken one (`spanvault reload`), keeping the rules in force.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/daemon/process_util.h"
#include "tests/upstream/fake_backend.h"

namespace spanvault::testing {
namespace {

using namespace std::chrono_literals;

std::string Rules(const std::string& action) {
  return R"(
[[processor]]
name = "no-health"
type = "filter"
condition = "attributes.http.route in ['/healthz', '/readyz']"

[[processor]]
name = "pii"
type = "redact"
action = ")" +
         action + R"("
hash_key = "e2e-key"

[[processor]]
name = "trim"
type = "truncate"
fields = ["output"]
max_bytes = 100
)";
}

std::string WriteRules(const TempDir& dir, const FakeBackend& raw, const FakeBackend& saas, const std::string& rules) {
  return WriteConfig(dir,
                     {{"raw", raw.url("/v1/spans"), ""},
                      {"saas", saas.url("/v1/spans"), "processors = [\"no-health\", \"pii\", \"trim\"]\n"}},
                     rules);
}

void Send(const DaemonProcess& d, const std::vector<std::string>& spans) {
  auto c = cli::StreamClient::Connect(d.Socket());
  ASSERT_TRUE(c.has_value());
  std::string data;
  for (const auto& s : spans) data += s + "\n";
  data += "{\"$sync\":1}\n";
  ASSERT_TRUE(c->Write(data).has_value());
  ASSERT_TRUE(c->ReadLine(10s).has_value());
}

std::string Chat(const std::string& id, const std::string& text, const std::string& output = "ok") {
  json j = {{"name", "chat"},
            {"span_id", id},
            {"type", "generation"},
            {"model", "gpt-4o"},
            {"input", {{"messages", {{{"role", "user"}, {"content", text}}}}}},
            {"output", output},
            {"attributes", {{"http.route", "/chat"}, {"user.email", "jane@example.com"}}}};
  return j.dump();
}

std::string Health(const std::string& id) {
  return json({{"name", "GET /healthz"}, {"span_id", id}, {"attributes", {{"http.route", "/healthz"}}}}).dump();
}

// The span with this id as the backend got it (the last copy), or null.
json Received(const FakeBackend& b, const std::string& id) {
  json found;
  for (const FakeRequest& r : b.requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body["spans"].is_array()) continue;
    for (const json& s : body["spans"]) {
      if (s.value("span_id", "") == id) found = s;
    }
  }
  return found;
}

json Status(const DaemonProcess& d) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "status", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  return json::parse(RunCommand(argv).out, nullptr, false);
}

json Upstream(const json& status, const std::string& name) {
  for (const json& u : status["upstreams"]) {
    if (u["name"] == name) return u;
  }
  return {};
}

TEST(ProcessE2ETest, SameSpansRawToOneUpstreamRedactedFilteredTrimmedToTheOtherAndReloaded) {
  FakeBackend raw, saas;
  raw.Start();
  saas.Start();
  TempDir dir;
  std::string config = WriteRules(dir, raw, saas, Rules("mask"));
  DaemonProcess d(dir);
  d.Start({"--config", config});

  const std::string secret =
      "key sk-proj-Abc123def456GHI789jkl012MNO345, mail jane@example.com, build 1.2.3.4 " + std::string(300, 'x');
  Send(d, {Chat("c1", secret, "answer " + std::string(300, 'y')), Health("h1")});
  ASSERT_TRUE(WaitFor([&] { return !Received(raw, "c1").is_null() && !Received(raw, "h1").is_null(); })) << d.Log();
  // The saas upstream has the health-check span's batch acknowledged too:
  // wait until it took the chat span, then check nothing else came.
  ASSERT_TRUE(WaitFor([&] { return !Received(saas, "c1").is_null(); })) << d.Log();

  json r = Received(raw, "c1");
  EXPECT_EQ(r["input"]["messages"][0]["content"], secret);  // the raw upstream gets the original
  EXPECT_EQ(r["attributes"]["user.email"], "jane@example.com");

  json s = Received(saas, "c1");
  std::string content = s["input"]["messages"][0]["content"];
  EXPECT_EQ(content.find("sk-proj-"), std::string::npos) << content;
  EXPECT_EQ(content.find("jane@example.com"), std::string::npos) << content;
  EXPECT_TRUE(content.starts_with("key [API_KEY], mail [EMAIL], build 1.2.3.4 xxx")) << content;
  EXPECT_EQ(s["attributes"]["user.email"], "[EMAIL]");
  EXPECT_EQ(s["output"], "answer " + std::string(93, 'y') + "\xE2\x80\xA6[truncated 207 bytes]");
  EXPECT_EQ(r["output"], "answer " + std::string(300, 'y'));
  EXPECT_TRUE(Received(saas, "h1").is_null());

  json up;
  ASSERT_TRUE(WaitFor([&] {
    up = Upstream(Status(d), "saas");
    return up.contains("processing") && up["processing"]["spans_in"] == 2;
  })) << up.dump();
  EXPECT_EQ(up["processing"]["processors"], json({"no-health", "pii", "trim"}));
  EXPECT_EQ(up["processing"]["spans_dropped_by_filter"], 1);
  EXPECT_EQ(up["processing"]["redactions"]["email"], 2);
  EXPECT_EQ(up["processing"]["redactions"]["api_key"], 1);
  EXPECT_FALSE(Upstream(Status(d), "raw").contains("processing"));

  // New rules without a restart: hashed pseudonyms.
  WriteRules(dir, raw, saas, Rules("hash"));
  d.Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return d.Log().find("configuration reloaded") != std::string::npos; })) << d.Log();
  Send(d, {Chat("c2", "mail jane@example.com")});
  ASSERT_TRUE(WaitFor([&] { return !Received(saas, "c2").is_null(); })) << d.Log();
  std::string hashed = Received(saas, "c2")["input"]["messages"][0]["content"];
  EXPECT_TRUE(hashed.starts_with("mail [EMAIL:")) << hashed;
  EXPECT_EQ(hashed.size(), std::string("mail [EMAIL:12345678]").size()) << hashed;

  // A broken rule refuses the reload, with the column; the hash rules stay.
  WriteRules(dir, raw, saas,
             Rules("hash") + "\n[[processor]]\nname = \"bad\"\ntype = \"filter\"\ncondition = \"status = 'error'\"\n");
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "reload"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult rr = RunCommand(argv);
  EXPECT_EQ(rr.code, 1) << rr.out;
  EXPECT_NE(rr.out.find("column 8: expected ==, !=, <, <=, >, >=, in or =~, got '='"), std::string::npos) << rr.out;
  Send(d, {Chat("c3", "mail jane@example.com")});
  ASSERT_TRUE(WaitFor([&] { return !Received(saas, "c3").is_null() && !Received(raw, "c3").is_null(); })) << d.Log();
  EXPECT_EQ(Received(saas, "c3")["input"]["messages"][0]["content"], hashed);  // same key, same pseudonym
  EXPECT_EQ(Received(raw, "c3")["input"]["messages"][0]["content"], "mail jane@example.com");
}

TEST(ProcessE2ETest, SampleKeepsWholeTracesWithAnErrorAndDropsTheRest) {
  FakeBackend raw, saas;
  raw.Start();
  saas.Start();
  TempDir dir;
  std::string config = WriteConfig(
      dir, {{"raw", raw.url("/v1/spans"), ""}, {"saas", saas.url("/v1/spans"), "processors = [\"errors-only\"]\n"}},
      R"(
[[processor]]
name = "errors-only"
type = "sample"
rate = 0
keep = ["status == 'error'"]
decision_wait = "300ms"
)");
  DaemonProcess d(dir);
  d.Start({"--config", config});
  auto span = [](const std::string& trace, const std::string& id, const std::string& status) {
    return json({{"name", "step"}, {"trace_id", trace}, {"span_id", id}, {"status", status}}).dump();
  };
  // The error comes last and in another write: the spans of its trace sent
  // before it must still be kept (the forwarder waits decision_wait).
  Send(d, {span("t-ok", "ok1", "ok"), span("t-err", "e1", "ok"), span("t-err", "e2", "ok")});
  // Once the raw upstream (no wait) delivered them, saas would have decided
  // on them too without the wait.
  ASSERT_TRUE(raw.WaitForUniqueSpans(3, 30s)) << d.Log();
  Send(d, {span("t-err", "e3", "error"), span("t-ok", "ok2", "ok")});
  ASSERT_TRUE(raw.WaitForUniqueSpans(5, 30s)) << d.Log();
  // Every span went through the chain, and what it kept has arrived.
  ASSERT_TRUE(WaitFor([&] {
    json up = Upstream(Status(d), "saas");
    return up.contains("processing") && up["processing"]["spans_in"] == 5 && saas.WaitForUniqueSpans(3, 0ms);
  })) << d.Log();
  auto got = saas.received_span_ids();
  EXPECT_EQ(got.count("e1"), 1u);
  EXPECT_EQ(got.count("e2"), 1u);
  EXPECT_EQ(got.count("e3"), 1u);
  EXPECT_EQ(got.count("ok1"), 0u);
  EXPECT_EQ(got.count("ok2"), 0u);
  json up = Upstream(Status(d), "saas");
  EXPECT_EQ(up["processing"]["spans_dropped_by_sample"], 2);
  // Dropped spans are acknowledged with their batch: nothing stays pending.
  EXPECT_TRUE(WaitFor([&] { return Upstream(Status(d), "saas")["pending_spans"] == 0; }));
}

TEST(ProcessE2ETest, IngestProcessorsChangeWhatIsStoredForEveryUpstream) {
  FakeBackend raw;
  raw.Start();
  TempDir dir;
  // Top-level keys first: after a [[table]] header they would belong to it.
  std::string config =
      WriteConfig(dir, {{"raw", raw.url("/v1/spans"), ""}}, "processors = [\"no-health\", \"pii\"]\n" + Rules("mask"));
  DaemonProcess d(dir);
  d.Start({"--config", config});
  Send(d, {Health("h1"), Chat("c1", "mail jane@example.com")});
  ASSERT_TRUE(WaitFor([&] { return !Received(raw, "c1").is_null(); })) << d.Log();
  // The raw upstream has no processors: what it gets is what was stored.
  EXPECT_EQ(Received(raw, "c1")["input"]["messages"][0]["content"], "mail [EMAIL]");
  EXPECT_TRUE(Received(raw, "h1").is_null());  // same batch, earlier: it would be there
  json st = Status(d);
  ASSERT_TRUE(st.contains("ingest_processing")) << st.dump();
  EXPECT_EQ(st["ingest_processing"]["spans_dropped_by_filter"], 1);
  EXPECT_EQ(st["ingest_processing"]["redactions"]["email"], 2);     // the content and user.email
  EXPECT_EQ(st["transports"]["unix_stream"]["accepted_spans"], 2);  // the dropped one counts as accepted

  // A reload that removes the ingest list: the next span is stored as sent.
  WriteConfig(dir, {{"raw", raw.url("/v1/spans"), ""}}, Rules("mask"));
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "reload", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult rr = RunCommand(argv);
  EXPECT_EQ(rr.code, 0) << rr.out;
  EXPECT_NE(rr.out.find("\"processors\""), std::string::npos) << rr.out;  // in "applied"
  Send(d, {Chat("c2", "mail jane@example.com")});
  ASSERT_TRUE(WaitFor([&] { return !Received(raw, "c2").is_null(); })) << d.Log();
  EXPECT_EQ(Received(raw, "c2")["input"]["messages"][0]["content"], "mail jane@example.com");
}

TEST(ProcessE2ETest, ADeadLetterKeepsTheStoredSpanSoThatItsReplayIsProcessedAnew) {
  FakeBackendOptions o;
  o.poison_span_ids = {"c9"};
  FakeBackend saas(o);
  saas.Start();
  TempDir dir;
  std::string config = WriteConfig(dir, {{"saas", saas.url("/v1/spans"), "processors = [\"pii\"]\n"}}, Rules("mask"));
  DaemonProcess d(dir);
  d.Start({"--config", config});
  Send(d, {Chat("c8", "mail jane@example.com"), Chat("c9", "mail jane@example.com")});
  ASSERT_TRUE(WaitFor([&] { return Status(d)["buffer"]["dead_letters"] == 1; })) << d.Log();
  ASSERT_TRUE(WaitFor([&] { return !Received(saas, "c8").is_null(); })) << d.Log();
  EXPECT_EQ(Received(saas, "c8")["input"]["messages"][0]["content"], "mail [EMAIL]");
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "dead-letter", "list", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult list = RunCommand(argv);
  ASSERT_EQ(list.code, 0) << list.out;
  json letter = json::parse(list.out.substr(0, list.out.find('\n')), nullptr, false);
  ASSERT_TRUE(letter.is_object()) << list.out;
  EXPECT_EQ(letter["span"]["span_id"], "c9");
  EXPECT_EQ(letter["span"]["input"]["messages"][0]["content"], "mail jane@example.com");  // as stored
}

}  // namespace
}  // namespace spanvault::testing
