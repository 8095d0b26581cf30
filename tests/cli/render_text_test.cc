// cli/render.h's text helpers: terminal safety, widths, truncation on code
// points, numbers, times, the timeline bar.
#include <gtest/gtest.h>

#include "cli/render.h"

namespace spanvault::cli {
namespace {

using nlohmann::json;

TEST(RenderTextTest, SanitizeNeutralizesControlsAndBadUtf8) {
  EXPECT_EQ(Sanitize("plain"), "plain");
  EXPECT_EQ(Sanitize("a\nb\tc\rd"), "a b c d");
  EXPECT_EQ(Sanitize("\x1b[31mred"), "\xEF\xBF\xBD[31mred");  // no escape reaches the terminal
  EXPECT_EQ(Sanitize("x\x7f"), "x\xEF\xBF\xBD");
  EXPECT_EQ(Sanitize("\xC2\x9B"), "\xEF\xBF\xBD");  // C1 CSI
  EXPECT_EQ(Sanitize("bad\xFF\xC3"), "bad\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(Sanitize("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(Sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(Sanitize("abc\u202Edef"), "abc\uFFFDdef");                          // bidi override
  EXPECT_EQ(Sanitize("日本 é 🙂"), "日本 é 🙂");
}

TEST(RenderTextTest, DisplayWidthCountsTerminalColumns) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("日本語"), 6u);
  EXPECT_EQ(DisplayWidth("e\u0301"), 1u);  // combining accent
  EXPECT_EQ(DisplayWidth("🙂"), 2u);
  EXPECT_EQ(DisplayWidth("├─ █▕▏…"), 7u);
}

TEST(RenderTextTest, TruncateCutsOnCodePointsWithAnEllipsis) {
  EXPECT_EQ(Truncate("short", 10), "short");
  EXPECT_EQ(Truncate("exactly10!", 10), "exactly10!");
  EXPECT_EQ(Truncate("a longer name", 6), "a lon…");
  EXPECT_EQ(Truncate("日本語の名前", 5), "日本…");  // 2+2+1: a wide char never half cut
  EXPECT_EQ(Truncate("日本語の名前", 6), "日本…");
  EXPECT_EQ(DisplayWidth(Truncate("日本語の名前", 6)), 5u);
  EXPECT_EQ(Truncate("e\u0301e\u0301e\u0301e\u0301", 3), "e\u0301e\u0301…");
  EXPECT_EQ(Truncate("🙂🙂🙂", 4), "🙂…");
  EXPECT_EQ(Truncate("abc", 0), "");
  EXPECT_EQ(Truncate("abc", 1), "…");
  // Every cut is valid UTF-8.
  std::string t = Truncate("ßßßßßßßß", 4);
  EXPECT_EQ(t, "ßßß…");
  EXPECT_EQ(Sanitize(t), t);
}

TEST(RenderTextTest, PaddingCountsColumnsNotBytes) {
  EXPECT_EQ(PadRight("日本", 6), "日本  ");
  EXPECT_EQ(PadLeft("12", 5), "   12");
  EXPECT_EQ(PadRight("toolong", 4), "too…");
  EXPECT_EQ(DisplayWidth(PadRight("日本語の名前", 7)), 7u);
}

TEST(RenderTextTest, Numbers) {
  EXPECT_EQ(FormatMillis(0.4), "0.4ms");
  EXPECT_EQ(FormatMillis(45), "45ms");
  EXPECT_EQ(FormatMillis(999.4), "999ms");
  EXPECT_EQ(FormatMillis(2310), "2.31s");
  EXPECT_EQ(FormatMillis(12345), "12.3s");
  EXPECT_EQ(FormatMillis(62000), "1m02s");
  EXPECT_EQ(FormatMillis(7500000), "2h05m");
  EXPECT_EQ(FormatMillis(-1), "-");
  EXPECT_EQ(FormatTokens(0), "0");
  EXPECT_EQ(FormatTokens(950), "950");
  EXPECT_EQ(FormatTokens(1730), "1,730");
  EXPECT_EQ(FormatTokens(12345), "12.3k");
  EXPECT_EQ(FormatTokens(4500000), "4.5M");
  EXPECT_EQ(FormatCost(0), "-");
  EXPECT_EQ(FormatCost(0.00594), "$0.00594");
  EXPECT_EQ(FormatCost(0.0456), "$0.0456");
  EXPECT_EQ(FormatCost(0.5), "$0.5");
  EXPECT_EQ(FormatCost(1.5), "$1.50");
  EXPECT_EQ(FormatCost(1234.567), "$1234.57");
  EXPECT_EQ(FormatCost(0.0000001234), "$0.00000012");
}

TEST(RenderTextTest, Times) {
  EXPECT_EQ(FormatTime("2026-12-07T10:00:02.310000000Z", true), "2026-12-07 10:00:02");
  EXPECT_EQ(FormatTime("2026-12-07T10:00:02.310000000Z", true, false, true), "10:00:02.310");
  EXPECT_EQ(FormatTime("not a time", true), "not a time");
  EXPECT_EQ(ShortId("4bf92f3577b34da6a3ce929d0e0e4736", false), "4bf92f35");
  EXPECT_EQ(ShortId("4bf92f3577b34da6a3ce929d0e0e4736", true), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ShortId("abc", false), "abc");
}

TEST(RenderTextTest, TimelineBar) {
  EXPECT_EQ(TimelineBar(0, 100, 100, 4), "▕████▏");
  EXPECT_EQ(TimelineBar(0, 50, 100, 4), "▕██  ▏");
  EXPECT_EQ(TimelineBar(50, 50, 100, 4), "▕  ██▏");
  EXPECT_EQ(TimelineBar(10, 10, 100, 4), "▕█   ▏");  // inside one cell
  EXPECT_EQ(TimelineBar(30, 0, 100, 4), "▕ █  ▏");   // an instant still shows
  EXPECT_EQ(TimelineBar(100, 0, 100, 4), "▕   █▏");  // at the very end
  EXPECT_EQ(TimelineBar(0, 500, 100, 4), "▕████▏");  // longer than the trace: clipped
  EXPECT_EQ(TimelineBar(0, 0, 0, 3), "▕█  ▏");       // no duration at all
  EXPECT_EQ(TimelineBar(-5, 10, 100, 2), "▕█ ▏");
}

TEST(RenderTextTest, OneLineOfAnInputOrOutput) {
  EXPECT_EQ(OneLine(json("multi\n  line\ttext ")), "multi line text");
  EXPECT_EQ(OneLine(json::parse(
                R"({"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi there"}]})")),
            "hi there");
  EXPECT_EQ(OneLine(json::parse(R"([{"role":"user","content":[{"type":"text","text":"parts"}]}])")), "parts");
  EXPECT_EQ(OneLine(json::parse(R"({"k":1})")), R"({"k":1})");
  EXPECT_EQ(OneLine(json(nullptr)), "");
  EXPECT_EQ(OneLine(json(42)), "42");
}

}  // namespace
}  // namespace spanvault::cli
