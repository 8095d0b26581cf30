// Control lines of the stream socket and the admin policy, without sockets.
#include "ipc/control_line.h"

#include <gtest/gtest.h>

#include "common/log_limiter.h"
#include "ipc/inflight_budget.h"
#include "ipc/peer_cred.h"

namespace spanvault::ipc {
namespace {

TEST(ControlLineTest, DeepValuesAreRefusedOnTheBytes) {
  // The line that took the daemon down: well inside the 1 MiB line limit.
  std::string deep = "{\"$sync\":" + std::string(300000, '[') + std::string(300000, ']') + "}";
  ControlLine c;
  EXPECT_EQ(ParseControlLine(deep, &c), "control line nests deeper than 4 levels");
  // Unbalanced too (no recursion, no parse).
  EXPECT_FALSE(ParseControlLine("{\"$status\":" + std::string(500000, '{'), &c).empty());
}

TEST(ControlLineTest, NestingCountsBracketsOutsideStringsOnly) {
  EXPECT_FALSE(JsonNestingExceeds(R"({"$salvage":"/tmp/[[[[[[[[[[x"})", 4));
  EXPECT_FALSE(JsonNestingExceeds(R"({"a":"\"[[[[[[[[\\"})", 2));
  EXPECT_TRUE(JsonNestingExceeds(R"({"a":[[[[1]]]]})", 4));
  EXPECT_FALSE(JsonNestingExceeds(R"({"a":[[[1]]]})", 4));
}

TEST(ControlLineTest, SyncIdsAreStringsOrNumbersOfAtMost128Bytes) {
  ControlLine c;
  EXPECT_EQ(ParseControlLine(R"({"$sync":7})", &c), "");
  EXPECT_EQ(c.key, "$sync");
  EXPECT_EQ(ParseControlLine(R"({"$sync":"batch-12"})", &c), "");
  EXPECT_EQ(ParseControlLine(R"({"$sync":-1.5})", &c), "");
  EXPECT_EQ(ParseControlLine("{\"$sync\":\"" + std::string(126, 'x') + "\"}", &c), "");
  EXPECT_EQ(ParseControlLine("{\"$sync\":\"" + std::string(127, 'x') + "\"}", &c),
            "the $sync id is longer than 128 bytes");
  EXPECT_EQ(ParseControlLine(R"({"$sync":{"a":1}})", &c), "the $sync id must be a string or a number, got object");
  EXPECT_EQ(ParseControlLine(R"({"$sync":[1]})", &c), "the $sync id must be a string or a number, got array");
  EXPECT_EQ(ParseControlLine(R"({"$sync":null})", &c), "the $sync id must be a string or a number, got null");
}

TEST(ControlLineTest, OtherShapesAreRefusedWithAReason) {
  ControlLine c;
  EXPECT_EQ(ParseControlLine(R"({"$status":tru)", &c), "invalid JSON in a control line");
  EXPECT_EQ(ParseControlLine(R"({})", &c), "a control line must be a JSON object");
  EXPECT_EQ(ParseControlLine(R"({"!":1,"$sync":1})", &c), "a control line needs a \"$...\" key");
  EXPECT_EQ(ParseControlLine(R"({"$status":true})", &c), "");
  EXPECT_EQ(c.key, "$status");
}

TEST(ControlLineTest, WhichLinesNeedAdmin) {
  auto needs = [](const char* line) {
    ControlLine c;
    EXPECT_EQ(ParseControlLine(line, &c), "") << line;
    return NeedsAdmin(c);
  };
  EXPECT_FALSE(needs(R"({"$sync":1})"));
  EXPECT_FALSE(needs(R"({"$status":true})"));
  EXPECT_FALSE(needs(R"({"$prices":"unpriced"})"));
  EXPECT_FALSE(needs(R"({"$nonsense":1})"));  // answered "unknown control line"
  EXPECT_TRUE(needs(R"({"$prices":"reload"})"));
  EXPECT_TRUE(needs(R"({"$reload":true})"));
  EXPECT_TRUE(needs(R"({"$salvage":"/x"})"));
  EXPECT_TRUE(needs(R"({"$dead_letter":"list"})"));
  EXPECT_TRUE(needs(R"({"$dead_letter":"purge"})"));
  // The query lines read span contents (docs/api.md).
  EXPECT_TRUE(needs(R"({"$query":"/api/traces","params":{"limit":"5"}})"));
  EXPECT_TRUE(needs(R"({"$export":"spans"})"));
  EXPECT_TRUE(needs(R"({"$tail":"spans"})"));
  EXPECT_TRUE(needs(R"({"$replay":"langfuse","params":{}})"));
}

TEST(AdminPolicyTest, RootOurUidAndTheAdminGroup) {
  AdminPolicy p;
  p.daemon_uid = 995;
  PeerCred peer;
  peer.known = true;
  peer.uid = 0;
  EXPECT_TRUE(p.Allows(peer));
  peer.uid = 995;
  EXPECT_TRUE(p.Allows(peer));
  peer.uid = 1000;
  peer.gid = 1000;
  peer.groups = {1000, 27};
  EXPECT_FALSE(p.Allows(peer));
  EXPECT_NE(p.Refusal(peer).find("uid 1000 is not root"), std::string::npos);
  p.admin_gid = 27;
  p.admin_group = "sudo";
  EXPECT_TRUE(p.Allows(peer));  // a supplementary group
  peer.groups = {};
  EXPECT_FALSE(p.Allows(peer));
  peer.gid = 27;
  EXPECT_TRUE(p.Allows(peer));  // the primary group
  PeerCred unknown;
  EXPECT_FALSE(p.Allows(unknown));
}

}  // namespace
}  // namespace spanvault::ipc

namespace spanvault::ipc {
namespace {

TEST(InflightBudgetTest, TakesWhatFitsAndOneOversizeAlone) {
  InflightBudget b(1000);
  EXPECT_TRUE(b.TryAcquire(600));
  EXPECT_FALSE(b.TryAcquire(500));  // 1,100 > 1,000: nothing taken
  EXPECT_EQ(b.in_use(), 600u);
  EXPECT_TRUE(b.TryAcquire(400));
  EXPECT_TRUE(b.Exhausted());
  b.Release(1000);
  EXPECT_FALSE(b.Exhausted());
  EXPECT_TRUE(b.TryAcquire(5000));  // larger than the whole budget: passes alone
  EXPECT_FALSE(b.TryAcquire(1));
  b.Acquire(10);  // bytes already read go on whatever the balance
  EXPECT_EQ(b.in_use(), 5010u);
  b.Release(5010);
  b.CountRefusal(span::Transport::kHttp, 2);
  EXPECT_EQ(b.refusals(span::Transport::kHttp), 2u);
  EXPECT_EQ(b.refusals(span::Transport::kUdp), 0u);
  InflightBudget unbounded;
  EXPECT_TRUE(unbounded.TryAcquire(1ull << 40));
  EXPECT_FALSE(unbounded.Exhausted());
}

TEST(LogLimiterTest, OneLinePerKeyPerIntervalWithTheCount) {
  LogLimiter l(std::chrono::seconds(10));
  const int64_t s = 1'000'000'000;
  EXPECT_EQ(l.Tick("uid 1000 control", 0), 1u);  // the first is logged
  EXPECT_EQ(l.Tick("uid 1000 control", 1 * s), 0u);
  EXPECT_EQ(l.Tick("uid 1000 control", 2 * s), 0u);
  EXPECT_EQ(l.Tick("uid 1001 control", 2 * s), 1u);   // another peer: its own line
  EXPECT_EQ(l.Tick("uid 1000 control", 10 * s), 3u);  // the interval passed: the count since
  EXPECT_EQ(l.Tick("uid 1000 control", 11 * s), 0u);
}

}  // namespace
}  // namespace spanvault::ipc
