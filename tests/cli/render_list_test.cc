// cli/render.h: the trace list, a session, tail lines and the replay count.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/render.h"
#include "tests/cli/render_fixtures.h"

namespace spanvault::cli {
namespace {

using nlohmann::json;
using testing::Summary;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

size_t ColumnOf(const std::string& line, std::string_view needle) {
  size_t at = line.find(needle);
  return at == std::string::npos ? std::string::npos : DisplayWidth(line.substr(0, at));
}

json ListAnswer() {
  json wide = Summary("0123456789abcdef0123456789abcdef",
                      "日本語の名前がとても長いトレースの名前です、切り詰められるべきです", 45.5, 2, 0, 12000, 1.5);
  json unnamed = Summary("ffff0000ffff0000ffff0000ffff0000", "", 0.4, 1, 3, 0, 0);
  return {
      {"traces", {Summary("4bf92f3577b34da6a3ce929d0e0e4736", "rag-answer", 2310, 7, 0, 1730, 0.00594), wide, unnamed}},
      {"next_cursor", "c1a2"}};
}

TEST(RenderListTest, AlignedTable) {
  std::vector<std::string> lines = Lines(RenderTraceList(ListAnswer(), {}));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(lines[0].starts_with("TIME                 TRACE     NAME ")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("2026-12-07 10:00:00  4bf92f35  rag-answer ")) << lines[1];
  // Every column starts where its header does (right aligned ones end there).
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(ColumnOf(lines[i], "rag-api"), ColumnOf(lines[0], "SERVICE")) << lines[i];
  }
  EXPECT_EQ(ColumnOf(lines[2], "日本語"), ColumnOf(lines[0], "NAME")) << lines[2];
  size_t status = ColumnOf(lines[0], "STATUS");
  EXPECT_EQ(ColumnOf(lines[1], "ok"), status) << lines[1];
  EXPECT_EQ(ColumnOf(lines[2], "ok"), status) << lines[2];
  EXPECT_EQ(ColumnOf(lines[3], "error ×3"), status) << lines[3];
  size_t cost_end = ColumnOf(lines[0], "COST") + 4;
  EXPECT_EQ(ColumnOf(lines[1], "$0.00594") + 8, cost_end);
  EXPECT_EQ(ColumnOf(lines[2], "$1.50") + 5, cost_end);
  EXPECT_EQ(lines[4], "more: --cursor c1a2");
}

TEST(RenderListTest, CellsAreTruncatedAndSafe) {
  std::string text = RenderTraceList(ListAnswer(), {});
  std::vector<std::string> lines = Lines(text);
  EXPECT_NE(lines[2].find("…"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("12.0k"), std::string::npos);
  EXPECT_NE(lines[3].find("(no root span yet)"), std::string::npos);
  json evil = ListAnswer();
  evil["traces"][0]["name"] = "\x1b]0;pwned\x07name";
  EXPECT_EQ(RenderTraceList(evil, {}).find('\x1b'), std::string::npos);
  RenderOptions o;
  o.full_ids = true;
  EXPECT_NE(RenderTraceList(ListAnswer(), o).find("4bf92f3577b34da6a3ce929d0e0e4736"), std::string::npos);
}

TEST(RenderListTest, EmptyAndLastPage) {
  EXPECT_EQ(RenderTraceList(json::parse(R"({"traces":[],"next_cursor":null})"), {}), "no traces match\n");
  json one = ListAnswer();
  one["next_cursor"] = nullptr;
  EXPECT_EQ(RenderTraceList(one, {}).find("more:"), std::string::npos);
}

TEST(RenderListTest, ColourOnlyWhenAsked) {
  EXPECT_EQ(RenderTraceList(ListAnswer(), {}).find('\x1b'), std::string::npos);
  RenderOptions o;
  o.color = true;
  EXPECT_NE(RenderTraceList(ListAnswer(), o).find("\x1b[31merror ×3"), std::string::npos);
}

TEST(RenderSessionTest, TurnByTurn) {
  json t = Summary("4bf92f3577b34da6a3ce929d0e0e4736", "rag-answer", 2310, 7, 0, 1730, 0.00594);
  t["input"] = json::parse(R"({"messages":[{"role":"user","content":"What are\nthe pricing tiers?"}]})");
  t["output"] = "Our pricing tiers are...";
  json a = {{"session_id", "chat-42"},
            {"traces", {t}},
            {"totals", {{"traces", 1}, {"spans", 7}, {"errors", 0}, {"total_tokens", 1730}, {"cost", 0.00594}}}};
  std::vector<std::string> lines = Lines(RenderSession(a, {}));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "session chat-42  1 traces  7 spans  0 errors  1,730 tokens  $0.00594");
  EXPECT_EQ(lines[2], "2026-12-07 10:00:00  4bf92f35  rag-answer  2.31s  1,730 tok  $0.00594  ok");
  EXPECT_EQ(lines[3], "  > What are the pricing tiers?");
  EXPECT_EQ(lines[4], "  < Our pricing tiers are...");
  RenderOptions narrow;
  narrow.columns = 20;
  EXPECT_EQ(Lines(RenderSession(a, narrow))[3], "  > What are the pr…");
}

TEST(RenderTailTest, SpanAndTraceLinesAlign) {
  json span = {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
               {"span_id", "a5"},
               {"parent_span_id", "root"},
               {"name", "answer"},
               {"type", "generation"},
               {"service", "rag-api"},
               {"model", "gpt-4o-mini"},
               {"start_time", "2026-12-07T10:00:00.950000000Z"},
               {"duration_ms", 1350.0},
               {"status", "error"},
               {"total_tokens", 1730},
               {"cost", 0.00594}};
  std::string s = RenderTailEvent("span", span, {});
  EXPECT_EQ(s.back(), '\n');
  EXPECT_TRUE(s.starts_with("10:00:00.950  4bf92f35  generation  answer ")) << s;
  EXPECT_NE(s.find("1.35s   1,730 tok     $0.00594  error"), std::string::npos) << s;
  json trace = Summary("4bf92f3577b34da6a3ce929d0e0e4736", "rag-answer", 2310, 7, 0, 1730, 0.00594);
  std::string t = RenderTailEvent("trace", trace, {});
  EXPECT_TRUE(t.starts_with("10:00:00.000  4bf92f35  trace       rag-answer (7 spans) ")) << t;
  EXPECT_EQ(ColumnOf(s, " tok"), ColumnOf(t, " tok"));
  EXPECT_EQ(ColumnOf(s, "  error"), ColumnOf(t, "  ok"));
  // A long name keeps the columns.
  span["name"] = std::string(200, 'x');
  EXPECT_EQ(ColumnOf(RenderTailEvent("span", span, {}), " tok"), ColumnOf(s, " tok"));
  // A span's cost may also come as the stored object.
  span["cost"] = {{"total", 0.5}, {"currency", "USD"}};
  EXPECT_NE(RenderTailEvent("span", span, {}).find("$0.5"), std::string::npos);
}

TEST(RenderReplayTest, Counts) {
  json a = json::parse(R"({"$replay":"langfuse","ok":true,"spans":12,"delivered":10,"failed":2})");
  EXPECT_EQ(RenderReplay(a), "replayed 12 spans to langfuse: 10 delivered, 2 failed\n");
}

}  // namespace
}  // namespace spanvault::cli
