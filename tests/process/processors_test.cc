// The processors through a Chain (process/chain.h): redact (mask, hash,
// drop_field, patterns, the scan bound), filter, truncate, set and sample, on
// canonical span JSON; every output must stay valid JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "process/chain.h"
#include "process/keep_set.h"

namespace spanvault::process {
namespace {

using nlohmann::json;

// A realistic generation span: OpenAI messages with content parts, an
// Anthropic-style tool result, attributes, an error.
const std::string kSpan =
    R"({"name":"chat","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",)"
    R"("type":"generation","status":"ok","model":"gpt-4o","start_time":"2026-01-01T00:00:00.000000000Z",)"
    R"("input":{"messages":[{"role":"system","content":"You are helpful. Build 1.2.3.4"},)"
    R"({"role":"user","content":[{"type":"text","text":"I am jane@example.com, call +1 415-555-2671"},)"
    R"({"type":"image_url","image_url":{"url":"https://x.test/a.png"}}]},)"
    R"({"role":"user","content":[{"type":"tool_result","content":[{"type":"text","text":"key sk-proj-Abc123def456GHI789jkl012MNO345"}]}]}]},)"
    R"("output":"Sure, jane@example.com.\nYour card 4111 1111 1111 1111 is on file.",)"
    R"("attributes":{"user.email":"jane@example.com","http.route":"/chat","client.ip":"10.1.2.3","env":"prod"},)"
    R"("received_at":"2026-01-01T00:00:00.100000000Z"})";

ProcessorConfig Redact(std::string action = "mask") {
  ProcessorConfig c;
  c.name = "pii";
  c.type = "redact";
  c.action = action;
  c.hash_key = "k3y";
  return c;
}

struct Out {
  Verdict verdict;
  json span;
  std::string text;
};

Out Process(const std::vector<ProcessorConfig>& defs, const std::string& span = kSpan,
            std::shared_ptr<const Chain>* keep = nullptr) {
  std::vector<std::string> order;
  for (const auto& d : defs) order.push_back(d.name);
  auto chain = Chain::Create(defs, order);
  EXPECT_TRUE(chain.has_value()) << (chain ? "" : chain.error().message);
  if (!chain) return {};
  std::string out;
  Verdict v = (*chain)->Apply(span, out);
  if (keep) *keep = *chain;
  std::string text = v == Verdict::kChanged ? out : span;
  json j = json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "invalid JSON: " << text;
  return {v, j, text};
}

TEST(RedactTest, MasksInsideMessagesContentPartsOutputAndAttributes) {
  std::shared_ptr<const Chain> chain;
  Out o = Process({Redact()}, kSpan, &chain);
  ASSERT_EQ(o.verdict, Verdict::kChanged);
  for (const char* secret : {"jane@example.com", "415-555-2671", "sk-proj-", "4111 1111", "10.1.2.3"}) {
    EXPECT_EQ(o.text.find(secret), std::string::npos) << secret << " in " << o.text;
  }
  EXPECT_EQ(o.span["input"]["messages"][1]["content"][0]["text"], "I am [EMAIL], call [PHONE]");
  EXPECT_EQ(o.span["input"]["messages"][2]["content"][0]["content"][0]["text"], "key [API_KEY]");
  EXPECT_EQ(o.span["output"], "Sure, [EMAIL].\nYour card [CREDIT_CARD] is on file.");
  EXPECT_EQ(o.span["attributes"]["user.email"], "[EMAIL]");
  EXPECT_EQ(o.span["attributes"]["client.ip"], "[IP_ADDRESS]");
  // Look-alikes, keys, ids, times and the rest are untouched.
  EXPECT_EQ(o.span["input"]["messages"][0]["content"], "You are helpful. Build 1.2.3.4");
  EXPECT_EQ(o.span["input"]["messages"][1]["content"][1]["image_url"]["url"], "https://x.test/a.png");
  EXPECT_EQ(o.span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(o.span["start_time"], "2026-01-01T00:00:00.000000000Z");
  EXPECT_EQ(o.span["attributes"]["http.route"], "/chat");
  ChainStats s = chain->Stats();
  EXPECT_EQ(s.spans_in, 1u);
  EXPECT_EQ(s.spans_out, 1u);
  std::map<std::string, uint64_t> by(s.redactions.begin(), s.redactions.end());
  EXPECT_EQ(by["email"], 3u);
  EXPECT_EQ(by["phone"], 1u);
  EXPECT_EQ(by["credit_card"], 1u);
  EXPECT_EQ(by["api_key"], 1u);
  EXPECT_EQ(by["ip_address"], 1u);
}

TEST(RedactTest, UnchangedSpanIsNotCopied) {
  const std::string clean = R"({"name":"x","trace_id":"t","input":"hello 1.2.3","attributes":{"a":"b"}})";
  EXPECT_EQ(Process({Redact()}, clean).verdict, Verdict::kUnchanged);
}

TEST(RedactTest, HashGivesAStableKeyedPseudonym) {
  Out a = Process({Redact("hash")});
  std::string email = a.span["attributes"]["user.email"];
  ASSERT_EQ(email.size(), std::string("[EMAIL:12345678]").size()) << email;
  EXPECT_TRUE(email.starts_with("[EMAIL:"));
  // The same address in the output gets the same pseudonym.
  EXPECT_NE(a.span["output"].get<std::string>().find(email), std::string::npos);
  // Another key: another pseudonym.
  ProcessorConfig other = Redact("hash");
  other.hash_key = "other";
  EXPECT_NE(Process({other}).span["attributes"]["user.email"], email);
}

TEST(RedactTest, DropFieldRemovesTheFieldOrAttribute) {
  Out o = Process({Redact("drop_field")});
  EXPECT_FALSE(o.span.contains("input"));
  EXPECT_FALSE(o.span.contains("output"));
  EXPECT_FALSE(o.span["attributes"].contains("user.email"));
  EXPECT_FALSE(o.span["attributes"].contains("client.ip"));
  EXPECT_EQ(o.span["attributes"]["http.route"], "/chat");
  EXPECT_EQ(o.span["name"], "chat");
}

TEST(RedactTest, UserPatternsAndFieldSelection) {
  ProcessorConfig c = Redact();
  c.detectors = {};
  c.patterns = {R"((?i)ssn[:= ]+\d{3}-\d{2}-\d{4})"};
  c.fields = {"output"};
  const std::string span = R"({"name":"x","input":"SSN: 123-45-6789","output":"my ssn=123-45-6789 ok"})";
  Out o = Process({c}, span);
  EXPECT_EQ(o.span["input"], "SSN: 123-45-6789");  // not a selected field
  EXPECT_EQ(o.span["output"], "my [REDACTED] ok");
}

TEST(RedactTest, EscapedStringsAreDecodedBeforeMatching) {
  // "\n" before the address must not become part of it; \u0040 is '@'.
  const std::string span = R"({"name":"x","input":"line\njane@example.com\u0009x","output":"bob\u0040corp.com"})";
  Out o = Process({Redact()}, span);
  EXPECT_EQ(o.span["input"], "line\n[EMAIL]\tx");
  EXPECT_EQ(o.span["output"], "[EMAIL]");
}

TEST(RedactTest, OverTheScanBoundTheFieldIsMaskedWhole) {
  ProcessorConfig c = Redact();
  c.max_scan_bytes = 1024;
  std::string big(2000, 'a');
  const std::string span = R"({"name":"x","input":"short jane@example.com","output":")" + big + R"("})";
  std::shared_ptr<const Chain> chain;
  Out o = Process({c}, span, &chain);
  EXPECT_EQ(o.span["input"], "short [EMAIL]");
  EXPECT_EQ(o.span["output"], "[REDACTED]");
  EXPECT_EQ(chain->Stats().redact_gave_up, 1u);
  // attributes stays an object: masked whole, it is emptied.
  const std::string attrs = R"({"name":"x","attributes":{"big":")" + big + R"(","k":"v"}})";
  EXPECT_EQ(Process({c}, attrs).span, json::parse(R"({"name":"x","attributes":{}})"));
}

TEST(FilterTest, DropsSpansByConditionAndFieldsByName) {
  ProcessorConfig f;
  f.name = "no-health";
  f.type = "filter";
  f.condition = "attributes.http.route in ['/healthz', '/readyz']";
  const std::string health = R"({"name":"GET","attributes":{"http.route":"/healthz"}})";
  std::shared_ptr<const Chain> chain;
  EXPECT_EQ(Process({f}, health, &chain).verdict, Verdict::kDrop);
  EXPECT_EQ(chain->Stats().dropped_filter, 1u);
  EXPECT_EQ(Process({f}).verdict, Verdict::kUnchanged);

  ProcessorConfig d;
  d.name = "strip";
  d.type = "filter";
  d.fields = {"attributes.client.ip", "expected", "attributes.missing"};
  Out o = Process({d}, R"({"name":"x","expected":"e","attributes":{"client.ip":"1.2.3.4","k":"v"}})");
  EXPECT_EQ(o.span, json::parse(R"({"name":"x","attributes":{"k":"v"}})"));
}

TEST(TruncateTest, CutsStringsAtAUtf8BoundaryWithAMarker) {
  ProcessorConfig t;
  t.name = "trim";
  t.type = "truncate";
  t.max_bytes = 64;
  std::string text;
  for (int i = 0; i < 40; ++i) text += "é";  // 2 bytes each: 80 bytes
  const std::string span = R"({"name":"x","input":")" + text + R"(","output":{"big":")" + std::string(100, 'z') +
                           R"("},"expected":"short"})";
  std::shared_ptr<const Chain> chain;
  Out o = Process({t}, span, &chain);
  std::string input = o.span["input"];
  EXPECT_EQ(input, std::string(text.substr(0, 64)) + "…[truncated 16 bytes]");
  std::string output = o.span["output"];  // an object: its JSON text, cut
  EXPECT_TRUE(output.starts_with(R"({"big":"zzz)")) << output;
  EXPECT_TRUE(output.ends_with("…[truncated 46 bytes]")) << output;
  EXPECT_EQ(o.span["expected"], "short");
  EXPECT_EQ(chain->Stats().truncated, 2u);
}

TEST(SetTest, SetsRenamesAndDeletes) {
  ProcessorConfig s;
  s.name = "tidy";
  s.type = "set";
  s.set = {{"environment", "\"prod\""}, {"attributes.team", "\"search\""}, {"attributes.tier", "3"}};
  s.rename = {{"attributes.old", "attributes.new"}, {"user_id", "attributes.user"}};
  s.remove = {"attributes.secret", "session_id"};
  Out o =
      Process({s}, R"({"name":"x","user_id":"u1","session_id":"s","attributes":{"old":1,"secret":"x","keep":true}})");
  EXPECT_EQ(o.span, json::parse(R"({"name":"x","environment":"prod",)"
                                R"("attributes":{"keep":true,"new":1,"user":"u1","team":"search","tier":3}})"));
  // No attributes yet: the object is added.
  Out p = Process({s}, R"({"name":"x"})");
  EXPECT_EQ(p.span["attributes"]["team"], "search");
}

TEST(SampleTest, DecidesByTraceIdTheSameWayEveryTime) {
  ProcessorConfig s;
  s.name = "ten";
  s.type = "sample";
  s.rate = 0.1;
  std::vector<std::string> order = {"ten"};
  auto chain = Chain::Create({s}, order);
  ASSERT_TRUE(chain.has_value());
  int kept = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string id = "trace-" + std::to_string(i);
    std::string root = R"({"name":"r","trace_id":")" + id + R"("})";
    std::string child = R"({"name":"c","trace_id":")" + id + R"(","parent_span_id":"p"})";
    std::string out;
    Verdict a = (*chain)->Apply(root, out);
    Verdict b = (*chain)->Apply(child, out);
    EXPECT_EQ(a, b) << "a trace is never half-sent: " << id;
    kept += a != Verdict::kDrop;
  }
  EXPECT_NEAR(kept, n / 10, n / 100);  // 10 % ± 1 point
  ChainStats st = (*chain)->Stats();
  EXPECT_EQ(st.traces_kept, static_cast<uint64_t>(kept));
  EXPECT_EQ(st.traces_dropped, static_cast<uint64_t>(n - kept));
  // Another seed: other traces.
  s.hash_seed = 7;
  auto other = Chain::Create({s}, order);
  ASSERT_TRUE(other.has_value());
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string span = R"({"name":"r","trace_id":"trace-)" + std::to_string(i) + R"("})";
    std::string out;
    same += ((*chain)->Apply(span, out) == Verdict::kDrop) == ((*other)->Apply(span, out) == Verdict::kDrop);
  }
  EXPECT_LT(same, 950);
}

TEST(ChainTest, RunsInOrderAndDropsUnreadableSpans) {
  ProcessorConfig trim;
  trim.name = "trim";
  trim.type = "truncate";
  trim.max_bytes = 64;
  // Truncate first: the e-mail past the cut is gone before redact looks.
  std::string span = R"({"name":"x","input":")" + std::string(70, 'a') + R"( jane@example.com"})";
  Out o = Process({trim, Redact()}, span);
  EXPECT_EQ(o.span["input"].get<std::string>().find("[EMAIL]"), std::string::npos);
  auto chain = Chain::Create({Redact()}, {"pii"});
  ASSERT_TRUE(chain.has_value());
  std::string out;
  EXPECT_EQ((*chain)->Apply(R"({"name":"x","input":"jane@example.com")", out), Verdict::kDrop);  // cut short
  EXPECT_EQ((*chain)->Stats().unreadable, 1u);
}

TEST(ProcessorConfigTest, ValidateReportsEveryProblem) {
  ProcessorConfig r;
  r.name = "bad name!";
  r.type = "redact";
  r.detectors = {"email", "ssn"};
  r.patterns = {"(", "ok"};
  r.action = "shred";
  r.fields = {"inputs"};
  auto p = r.Validate();
  ASSERT_EQ(p.size(), 5u) << ::testing::PrintToString(p);
  EXPECT_EQ(p[0], "processor bad name!: name must be 1-64 of A-Z a-z 0-9 _ . -");
  EXPECT_EQ(p[1], "processor bad name!: detector \"ssn\" is not one of email, phone, credit_card, api_key, ip_address");
  EXPECT_EQ(p[2], "processor bad name!: pattern '(': missing ): (");

  ProcessorConfig f;
  f.name = "f";
  f.type = "filter";
  f.condition = "status = 'error'";
  f.fields = {"trace_id"};
  auto q = f.Validate();
  ASSERT_EQ(q.size(), 2u) << ::testing::PrintToString(q);
  EXPECT_EQ(q[0],
            "processor f: condition \"status = 'error'\": column 8: expected ==, !=, <, <=, >, >=, in or =~, got '='");
  EXPECT_EQ(q[1], "processor f: fields: \"trace_id\" cannot be changed (backends need it)");

  ProcessorConfig h = Redact("hash");
  h.hash_key.clear();
  EXPECT_EQ(h.Validate(), std::vector<std::string>{"processor pii: action \"hash\" needs a hash_key"});

  auto all = ValidateProcessors({Redact(), Redact()}, {{"pii", "upstream a"}, {"nope", "upstream b"}});
  EXPECT_EQ(all, (std::vector<std::string>{"processor pii: the name is used twice",
                                           "upstream b: processor \"nope\" is not defined by any [[processor]]"}));
}

}  // namespace
}  // namespace spanvault::process

namespace spanvault::process {
namespace {

ProcessorConfig KeepErrors() {
  ProcessorConfig s;
  s.name = "errors";
  s.type = "sample";
  s.rate = 0;
  s.keep = {"status == 'error'", "cost.total > 0.05"};
  s.decision_wait = std::chrono::milliseconds(500);
  return s;
}

TEST(SampleKeepTest, AMatchingSpanKeepsItsWholeTrace) {
  auto marks = std::make_shared<KeepSet>();
  auto chain = Chain::Create({KeepErrors()}, {"errors"}, marks);
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  EXPECT_EQ((*chain)->DecisionWait(), std::chrono::milliseconds(500));
  const std::string root = R"({"name":"r","trace_id":"t1","status":"ok"})";
  const std::string failed = R"({"name":"c","trace_id":"t1","parent_span_id":"r","status":"error"})";
  const std::string other = R"({"name":"r","trace_id":"t2","status":"ok"})";
  std::string out;
  // Before anything matched: rate 0 drops the ok span...
  EXPECT_EQ((*chain)->Apply(root, out), Verdict::kDrop);
  // ...the matching span itself is kept, and once it is observed (at ingest,
  // or in the forwarder's batch) its whole trace is.
  EXPECT_EQ((*chain)->Apply(failed, out), Verdict::kUnchanged);
  (*chain)->Observe(failed);
  EXPECT_EQ((*chain)->Apply(root, out), Verdict::kUnchanged);
  EXPECT_EQ((*chain)->Apply(other, out), Verdict::kDrop);
  // Another chain sharing the marks (an upstream restarted by a reload) agrees.
  auto again = Chain::Create({KeepErrors()}, {"errors"}, marks);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)->Apply(root, out), Verdict::kUnchanged);
  // Marks are per processor: another sample processor does not see them.
  ProcessorConfig renamed = KeepErrors();
  renamed.name = "other";
  auto third = Chain::Create({renamed}, {"other"}, marks);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ((*third)->Apply(root, out), Verdict::kDrop);
  // No keep conditions: no wait.
  ProcessorConfig plain = KeepErrors();
  plain.keep.clear();
  auto p = Chain::Create({plain}, {"errors"});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ((*p)->DecisionWait().count(), 0);
}

TEST(SampleKeepTest, KeepConditionsAreValidated) {
  ProcessorConfig s = KeepErrors();
  s.keep = {"status == 'error'", "cost.total >"};
  auto p = s.Validate();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0],
            "processor errors: keep: condition \"cost.total >\": column 13: expected a string, a number, true, false "
            "or null, got the end");
}

TEST(KeepSetTest, MarksExpireAndTheOldestGoWhenFull) {
  KeepSet set(16 * 4);  // 4 per shard
  set.Add("p", "a", 100);
  EXPECT_TRUE(set.Contains("p", "a", 50));
  EXPECT_FALSE(set.Contains("p", "a", 101));  // expired
  EXPECT_FALSE(set.Contains("q", "a", 50));
  for (int i = 0; i < 1000; ++i) set.Add("p", "t" + std::to_string(i), 1000000 + i);
  EXPECT_LE(set.size(), 64u);
  EXPECT_GT(set.evicted(), 900u);
  EXPECT_TRUE(set.Contains("p", "t999", 0));  // the newest stay
  // A mark extended keeps its trace past its first expiry.
  set.Add("p", "x", 10);
  set.Add("p", "x", 5000000);
  EXPECT_TRUE(set.Contains("p", "x", 20));
}

}  // namespace
}  // namespace spanvault::process
