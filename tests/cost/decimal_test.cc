#include "cost/decimal.h"

#include <gtest/gtest.h>

#include <string>

#include "cost/exact_json.h"

namespace spanvault::cost {
namespace {

TEST(DecimalTest, ParsesExactly) {
  struct Case {
    const char* text;
    int scale;
    int64_t want;
  } cases[] = {
      {"0.43", 12, 430'000'000'000},
      {"0.1", 12, 100'000'000'000},
      {"2.5", 12, 2'500'000'000'000},
      {"10", 12, 10'000'000'000'000},
      {"0", 12, 0},
      {"0.0", 18, 0},
      {"2.5e-06", 18, 2'500'000'000'000},  // LiteLLM per token -> 2.5 per 1M
      {"1.25E-7", 18, 125'000'000'000},
      {"1e-05", 18, 10'000'000'000'000},
      {"3.3333333333333335e-07", 18, 333'333'333'333},  // rounded at 10^-18
      {"0.0000000000005", 12, 1},                       // half rounds away from zero
      {"0.0000000000004", 12, 0},
      {"-1.5", 12, -1'500'000'000'000},
      {"1e3", 0, 1000},
      {"0.003625", 12, 3'625'000'000},
  };
  for (const auto& c : cases) {
    auto v = ParseDecimal(c.text, c.scale);
    ASSERT_TRUE(v.has_value()) << c.text;
    EXPECT_EQ(static_cast<int64_t>(*v), c.want) << c.text;
  }
}

TEST(DecimalTest, RefusesNonNumbers) {
  for (const char* text : {"", "-", ".", "abc", "1.2.3", "1e", "1e+", "0x10", "1,5", "nan", "inf", "1 ", "1e40"}) {
    EXPECT_FALSE(ParseDecimal(text, 12).has_value()) << text;
  }
}

TEST(DecimalTest, FormatsWithoutExponentOrTrailingZeros) {
  struct Case {
    int64_t units;
    const char* want;
  } cases[] = {
      {430'000'000'000, "0.43"},
      {0, "0"},
      {1, "0.000000000001"},
      {1'000'000'000'000, "1"},
      {12'575'000'000, "0.012575"},
      {-1'500'000'000'000, "-1.5"},
      {123'456'789'012'345, "123.456789012345"},
      {300'000'000'000, "0.3"},
  };
  for (const auto& c : cases) EXPECT_EQ(FormatDecimal(c.units, 12), c.want);
}

TEST(DecimalTest, FormatsTheSameAcrossThe64BitBoundaryAndEveryScale) {
  // Magnitudes up to 2^64 - 1 take a 64-bit path, larger ones a 128-bit one.
  const Int128 max64 = static_cast<Int128>(UINT64_MAX);
  EXPECT_EQ(FormatDecimal(max64, 12), "18446744.073709551615");
  EXPECT_EQ(FormatDecimal(max64 + 1, 12), "18446744.073709551616");
  EXPECT_EQ(FormatDecimal(-max64, 12), "-18446744.073709551615");
  EXPECT_EQ(FormatDecimal(-(max64 + 1), 12), "-18446744.073709551616");
  EXPECT_EQ(FormatDecimal(max64 * 10, 12), "184467440.73709551615");
  EXPECT_EQ(FormatDecimal(max64, 0), "18446744073709551615");
  EXPECT_EQ(FormatDecimal(max64 + 1, 0), "18446744073709551616");
  EXPECT_EQ(FormatDecimal(5, 18), "0.000000000000000005");
  EXPECT_EQ(FormatDecimal(Pow10(18), 18), "1");
  EXPECT_EQ(FormatDecimal(Pow10(19) + 5, 18), "10.000000000000000005");
  EXPECT_EQ(FormatDecimal(7, 20), "0.00000000000000000007");
  EXPECT_EQ(FormatDecimal(1'010'000, 6), "1.01");
  EXPECT_EQ(FormatDecimal(-7, 3), "-0.007");
}

TEST(DecimalTest, MulDivRoundsHalfAwayFromZero) {
  Int128 out = 0;
  ASSERT_TRUE(MulDivRound(3, 100'000, 1'000'000, out));  // 0.3
  EXPECT_EQ(static_cast<int64_t>(out), 0);
  ASSERT_TRUE(MulDivRound(5, 100'000, 1'000'000, out));  // 0.5
  EXPECT_EQ(static_cast<int64_t>(out), 1);
  ASSERT_TRUE(MulDivRound(7, 1'000'000, 1'000'000, out));
  EXPECT_EQ(static_cast<int64_t>(out), 7);
  Int128 big = Pow10(30);
  EXPECT_FALSE(MulDivRound(big, big, 1, out));
}

TEST(ExactJsonTest, KeepsFloatText) {
  auto j = ParseExactJson(R"({"a": 0.43, "b": 2.5e-06, "c": 7, "d": "x", "e": [0.1, null, true]})");
  ASSERT_TRUE(j.has_value()) << j.error().message;
  EXPECT_EQ((*j)["a"], "0.43");
  EXPECT_EQ((*j)["b"], "2.5e-06");
  EXPECT_EQ((*j)["c"], 7);
  EXPECT_EQ((*j)["d"], "x");
  EXPECT_EQ((*j)["e"][0], "0.1");
  EXPECT_TRUE((*j)["e"][1].is_null());
}

TEST(ExactJsonTest, ReportsErrorsWithoutThrowing) {
  for (const char* bad : {"{", "{\"a\":}", "[1,]", "", "nul"}) {
    auto j = ParseExactJson(bad);
    EXPECT_FALSE(j.has_value()) << bad;
  }
}

TEST(ExactTomlTest, KeepsFloatTextAndDates) {
  auto j = ParseExactToml(
      "price = 0.43\n"
      "big = 1_000.5\n"
      "n = 3\n"
      "day = 2025-06-01\n"
      "t = 01:30:00\n"
      "[sub]\n"
      "x = { y = 2.5e-06, z = [0.1, 0.2] }\n"
      "\"ünï\" = 0.7\n");
  ASSERT_TRUE(j.has_value()) << j.error().message;
  EXPECT_EQ((*j)["price"], "0.43");
  EXPECT_EQ((*j)["big"], "1000.5");
  EXPECT_EQ((*j)["n"], 3);
  EXPECT_EQ((*j)["day"], "2025-06-01");
  EXPECT_EQ((*j)["t"], "01:30:00");
  EXPECT_EQ((*j)["sub"]["x"]["y"], "2.5e-06");
  EXPECT_EQ((*j)["sub"]["x"]["z"][1], "0.2");
  EXPECT_EQ((*j)["sub"]["ünï"], "0.7");
}

TEST(ExactTomlTest, ReportsErrors) {
  auto j = ParseExactToml("a = \n");
  ASSERT_FALSE(j.has_value());
  EXPECT_NE(j.error().message.find("line 1"), std::string::npos) << j.error().message;
  EXPECT_FALSE(ParseExactToml("a = inf\n").has_value());
  EXPECT_FALSE(ParseExactToml("a = nan\n").has_value());
}

}  // namespace
}  // namespace spanvault::cost
