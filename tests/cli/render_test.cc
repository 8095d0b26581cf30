// cli/render.h: the trace commands' text from answers shaped as docs/api.md
// says — tree connectors, timeline bars, errors, DAG parents, widths and
// unicode-safe truncation.
#include "cli/render.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/cli/render_fixtures.h"

namespace spanvault::cli {
namespace {

using nlohmann::json;
using testing::Entry;
using testing::StoredSpan;
using testing::Summary;
using testing::TreeAnswer;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The display column where `needle` starts in `line` (npos when absent).
size_t ColumnOf(const std::string& line, std::string_view needle) {
  size_t at = line.find(needle);
  return at == std::string::npos ? std::string::npos : DisplayWidth(line.substr(0, at));
}

// The span lines of a tree (after the header, the blank line and the axis).
std::vector<std::string> SpanLines(const std::string& text) {
  std::vector<std::string> lines = Lines(text), out;
  for (const auto& l : lines) {
    if (l.find("▕") != std::string::npos) out.push_back(l);
  }
  return out;
}

TEST(RenderTreeTest, ConnectorsTypesAndNamesInTreeOrder) {
  std::vector<std::string> lines = SpanLines(RenderTraceTree(TreeAnswer(), {}));
  ASSERT_EQ(lines.size(), 7u) << RenderTraceTree(TreeAnswer(), {});
  EXPECT_TRUE(lines[0].starts_with("[agent] rag-answer ")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("├─ [retrieval] embed ")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("├─ [retrieval] search ")) << lines[2];
  EXPECT_TRUE(lines[3].starts_with("├─ [tool] tool-a ")) << lines[3];
  EXPECT_TRUE(lines[4].starts_with("├─ [tool] tool-b ")) << lines[4];
  EXPECT_TRUE(lines[5].starts_with("│  └─ [span] merge ")) << lines[5];
  EXPECT_TRUE(lines[6].starts_with("└─ [generation] answer ")) << lines[6];
}

TEST(RenderTreeTest, HeaderSaysWhatTheTraceIs) {
  std::string text = RenderTraceTree(TreeAnswer(), {});
  std::vector<std::string> lines = Lines(text);
  EXPECT_EQ(lines[0], "trace 4bf92f3577b34da6a3ce929d0e0e4736  rag-answer");
  EXPECT_EQ(lines[1], "  service rag-api · env prod · session chat-42 · user u-7");
  EXPECT_NE(lines[2].find("2026-12-07 10:00:00  2.31s  7 spans  1 error  1,730 tokens"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("$0.00594"), std::string::npos);
}

TEST(RenderTreeTest, BarsAlignAndScaleToTheTrace) {
  std::string text = RenderTraceTree(TreeAnswer(), {});
  std::vector<std::string> lines = SpanLines(text);
  size_t open = ColumnOf(lines[0], "▕"), close = ColumnOf(lines[0], "▏");
  EXPECT_EQ(close - open, 25u);  // 24 cells between the edges
  for (const auto& l : lines) {
    EXPECT_EQ(ColumnOf(l, "▕"), open) << l;
    EXPECT_EQ(ColumnOf(l, "▏"), close) << l;
  }
  // The root covers the whole bar.
  EXPECT_NE(lines[0].find("▕" + std::string() +
                          [] {
                            std::string s;
                            for (int i = 0; i < 24; ++i) s += "█";
                            return s;
                          }() +
                          "▏"),
            std::string::npos);
  // Parallel children start in the same cell; the longer one ends later.
  size_t a = ColumnOf(lines[3], "█"), b = ColumnOf(lines[4], "█");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a - open, 1u + 2);  // 200 ms of 2310 in 24 cells: cell 2
  EXPECT_LT(lines[3].rfind("█"), lines[4].rfind("█"));
  // The axis: 0 under ▕, the duration ending at ▏.
  std::string axis = Lines(text)[4];
  EXPECT_EQ(ColumnOf(axis, "0"), open) << axis;
  EXPECT_EQ(ColumnOf(axis, "2.31s") + 5, close + 1) << axis;
}

TEST(RenderTreeTest, DurationsTokensCostAndErrors) {
  std::vector<std::string> lines = SpanLines(RenderTraceTree(TreeAnswer(), {}));
  EXPECT_NE(lines[1].find("45ms"), std::string::npos) << lines[1];
  EXPECT_NE(lines[6].find("1.35s   1,730   $0.00594"), std::string::npos) << lines[6];
  EXPECT_NE(lines[6].find("✗ rate limited: retry after 2s"), std::string::npos) << lines[6];
  // A parent without tokens of its own shows its subtree's, marked Σ.
  EXPECT_NE(lines[0].find("Σ1,730"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("Σ$0.00594"), std::string::npos) << lines[0];
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(lines[i].find("✗"), std::string::npos) << lines[i];
  // The numbers' columns end at the same place on every line.
  EXPECT_EQ(ColumnOf(lines[1], "-          -") + 12, ColumnOf(lines[6], "$0.00594") + 8);
}

TEST(RenderTreeTest, DurationFromTheTimesWhenNotStored) {
  json a = TreeAnswer();
  a["spans"][1]["span"].erase("duration_ms");  // embed: 0-45 ms
  EXPECT_NE(SpanLines(RenderTraceTree(a, {}))[1].find("45ms"), std::string::npos);
}

TEST(RenderTreeTest, BarsStayInsideWhenTheSummaryIsNarrowerThanTheSpans) {
  json a = TreeAnswer();
  a["trace"]["start_time"] = "2026-12-07T10:00:00.045000000Z";  // after the root's start
  a["trace"]["duration_ms"] = 1000;                             // before its end
  std::string text = RenderTraceTree(a, {});
  std::vector<std::string> lines = SpanLines(text);
  EXPECT_NE(lines[0].find("▕████████████████████████▏"), std::string::npos) << text;
  EXPECT_NE(lines[1].find("▕█ "), std::string::npos) << text;          // embed starts at the very left
  EXPECT_NE(Lines(text)[4].find("2.31s"), std::string::npos) << text;  // the axis
}

TEST(RenderTreeTest, DagSpanDrawnOnceUnderItsFirstParentNamingTheOthers) {
  std::string text = RenderTraceTree(TreeAnswer(), {});
  size_t first = text.find("[span] merge");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("[span] merge", first + 1), std::string::npos) << text;
  EXPECT_NE(text.find("⇠ also under tool-a"), std::string::npos) << text;
}

TEST(RenderTreeTest, SiblingsByStartTimeWhateverTheAnswerOrder) {
  json a = TreeAnswer();
  std::swap(a["spans"][1], a["spans"][6]);  // answer before embed
  std::vector<std::string> lines = SpanLines(RenderTraceTree(a, {}));
  EXPECT_TRUE(lines[1].starts_with("├─ [retrieval] embed")) << lines[1];
  EXPECT_TRUE(lines[6].starts_with("└─ [generation] answer")) << lines[6];
}

TEST(RenderTreeTest, OrphansAreRootsAndCyclesEndOnce) {
  json spans = json::array({Entry(StoredSpan("x", "missing-parent", "tool", "orphan", 10, 10), 0, {}),
                            Entry(StoredSpan("c1", "c2", "span", "loop-1", 0, 5), 0, {"c2"}),
                            Entry(StoredSpan("c2", "c1", "span", "loop-2", 5, 5), 1, {"c1"})});
  json a = {{"trace", Summary("t1", "", 30, 3, 0, 0, 0)}, {"roots", {"x"}}, {"spans", spans}};
  std::string text = RenderTraceTree(a, {});
  std::vector<std::string> lines = SpanLines(text);
  ASSERT_EQ(lines.size(), 3u) << text;
  EXPECT_TRUE(lines[0].starts_with("[tool] orphan")) << text;
  EXPECT_NE(text.find("loop-1"), std::string::npos);
  EXPECT_NE(text.find("loop-2"), std::string::npos);
  EXPECT_NE(text.find("(no root span yet)"), std::string::npos) << text;  // name null
}

TEST(RenderTreeTest, LongNamesTruncatedOnCodePointsKeepingTheColumns) {
  json a = TreeAnswer();
  a["spans"][1]["span"]["name"] = "埋め込みベクトルを計算するとても長いスパンの名前です" + std::string(40, 'x');
  a["spans"][2]["span"]["name"] = "e\u0301tape-with-combining-accents-and-a-very-long-tail-" + std::string(60, 'y');
  RenderOptions o;
  o.name_width = 20;
  std::vector<std::string> lines = SpanLines(RenderTraceTree(a, o));
  size_t open = ColumnOf(lines[0], "▕");
  for (const auto& l : lines) EXPECT_EQ(ColumnOf(l, "▕"), open) << l;
  EXPECT_NE(lines[1].find("…"), std::string::npos) << lines[1];
  EXPECT_LE(open, 20u + 24 + 2);
}

TEST(RenderTreeTest, NarrowTerminalNarrowsTheLabels) {
  json a = TreeAnswer();
  a["spans"][1]["span"]["name"] = std::string(100, 'n');
  RenderOptions wide, narrow;
  narrow.columns = 80;
  size_t w = ColumnOf(SpanLines(RenderTraceTree(a, wide))[0], "▕");
  size_t n = ColumnOf(SpanLines(RenderTraceTree(a, narrow))[0], "▕");
  EXPECT_LT(n, w);
  for (const auto& l : SpanLines(RenderTraceTree(a, narrow))) {
    // Everything but the notes (error, DAG parents) fits 80 columns.
    EXPECT_LE(DisplayWidth(l.substr(0, std::min(l.find("  ✗"), l.find("  ⇠")))), 80u) << l;
  }
}

TEST(RenderTreeTest, ColourOnlyWhenAsked) {
  EXPECT_EQ(RenderTraceTree(TreeAnswer(), {}).find('\x1b'), std::string::npos);
  RenderOptions o;
  o.color = true;
  std::string text = RenderTraceTree(TreeAnswer(), o);
  EXPECT_NE(text.find("\x1b[31m✗ rate limited"), std::string::npos) << text;
  EXPECT_NE(text.find("\x1b[35m[generation]\x1b[0m answer"), std::string::npos) << text;
}

TEST(RenderTreeTest, DeepTreesDoNotExhaustTheStack) {
  json spans = json::array();
  for (int i = 0; i < 5000; ++i) {
    spans.push_back(
        Entry(StoredSpan("s" + std::to_string(i), i ? "s" + std::to_string(i - 1) : "", "span", "n", 0, 1), i, {}));
  }
  json a = {{"trace", Summary("t", "n", 1, 5000, 0, 0, 0)}, {"roots", {"s0"}}, {"spans", spans}};
  EXPECT_EQ(SpanLines(RenderTraceTree(a, {})).size(), 5000u);
}

}  // namespace
}  // namespace spanvault::cli
