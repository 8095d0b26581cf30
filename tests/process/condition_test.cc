// The condition language (process/condition.h): parse errors with columns,
// and evaluation against canonical spans, table-driven.
#include "process/condition.h"

#include <gtest/gtest.h>

#include <string>

namespace spanvault::process {
namespace {

constexpr std::string_view kSpan =
    R"({"name":"chat","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","type":"generation","status":"error",)"
    R"("model":"gpt-4o","duration_ms":1250.5,"usage":{"input_tokens":100,"total_tokens":130},)"
    R"("cost":{"total":0.07,"currency":"USD"},"error":"rate limited","tags":["a"],)"
    R"("attributes":{"http.route":"/healthz","gen_ai":{"system":"openai"},"retry":true,"note":null,)"
    R"("quote":"it\"s"},"received_at":"2026-01-01T00:00:00Z"})";

struct EvalCase {
  std::string condition;
  bool expected;
};

TEST(ConditionTest, EvaluatesAgainstASpan) {
  const EvalCase cases[] = {
      {"status == 'error'", true},
      {"status == \"error\"", true},
      {"status != 'error'", false},
      {"type == 'generation' and model == 'gpt-4o'", true},
      {"type == 'span' or model == 'gpt-4o'", true},
      {"not (status == 'ok')", true},
      {"not status == 'ok'", true},
      {"cost.total > 0.05", true},
      {"cost.total >= 0.07", true},
      {"cost.total < 0.05", false},
      {"duration_ms > 1000", true},
      {"usage.total_tokens == 130", true},
      {"usage.total_tokens <= 129", false},
      {"attributes.http.route == '/healthz'", true},   // flat dotted key
      {"attributes.gen_ai.system == 'openai'", true},  // nested objects
      {"metadata.http.route == '/healthz'", true},     // alias
      {"attributes.retry == true", true},
      {"attributes.note == null", true},
      {"exists(attributes.note)", false},  // null: not there
      {"exists(attributes.retry)", true},
      {"exists(output)", false},
      {"output == null", true},  // absent reads as null
      {"output != 'x'", true},
      {"model in ['gpt-4o', 'gpt-4o-mini']", true},
      {"model in ['claude']", false},
      {"model not in ['claude']", true},
      {"model =~ '^gpt-4'", true},
      {"model =~ 'claude'", false},
      {"attributes.http.route =~ '^/(healthz|readyz)$'", true},
      {"usage.total_tokens =~ '13'", false},    // =~ needs a string
      {"attributes.quote == 'it\\\"s'", true},  // escapes on both sides
      {"cost.total == '0.07'", false},          // kinds differ
      {"model > 'gpt'", true},                  // strings in byte order
      {"model > 1", false},                     // no order between kinds
      {"true", true},
      {"false or (status == 'error' and (cost.total > 0.05 or false))", true},
      {"tags == null", false},  // an array is there, and is not null
      {"exists(tags)", true},
  };
  SpanView view;
  ASSERT_TRUE(view.Reset(kSpan));
  for (const auto& c : cases) {
    auto parsed = Condition::Parse(c.condition);
    ASSERT_TRUE(parsed.has_value()) << c.condition << ": " << parsed.error().message;
    EXPECT_EQ(parsed->Eval(view), c.expected) << c.condition;
  }
}

struct ErrorCase {
  std::string condition;
  std::string message;  // the whole error
};

TEST(ConditionTest, ErrorsPointAtTheColumn) {
  const ErrorCase cases[] = {
      {"status = 'error'",
       "condition \"status = 'error'\": column 8: expected ==, !=, <, <=, >, >=, in or =~, got '='"},
      {"status == ",
       "condition \"status == \": column 11: expected a string, a number, true, false or null, got the end"},
      {"status == 'error", "condition \"status == 'error\": column 11: unterminated string"},
      {"(status == 'error'", "condition \"(status == 'error'\": column 19: expected ')', got the end"},
      {"status == 'a' and",
       "condition \"status == 'a' and\": column 18: expected a field, '(', not, exists, true or false, got the end"},
      {"status == 'a' xor model == 'b'",
       "condition \"status == 'a' xor model == 'b'\": column 15: expected and, or or the end, got 'xor'"},
      {"model in 'a'", "condition \"model in 'a'\": column 10: expected '[', got ''a''"},
      {"model in ['a' 'b']", "condition \"model in ['a' 'b']\": column 15: expected ',' or ']', got ''b''"},
      {"model =~ '('", "condition \"model =~ '('\": column 10: bad pattern: missing ): ("},
      {"model =~ 5", "condition \"model =~ 5\": column 10: expected a pattern in quotes after =~, got '5'"},
      {"cost.total > 1.2.3", "condition \"cost.total > 1.2.3\": column 14: '1.2.3' is not a number"},
      {"exists(and)", "condition \"exists(and)\": column 8: expected a field, got 'and'"},
      {"", "condition \"\": column 1: expected a field, '(', not, exists, true or false, got the end"},
      {"status == 'a' $", "condition \"status == 'a' $\": column 15: unexpected '$'"},
  };
  for (const auto& c : cases) {
    auto parsed = Condition::Parse(c.condition);
    ASSERT_FALSE(parsed.has_value()) << c.condition;
    EXPECT_EQ(parsed.error().message, c.message) << c.condition;
  }
}

TEST(ConditionTest, BoundsDepthLengthAndTerms) {
  std::string deep(40, '(');
  deep += "true" + std::string(40, ')');
  auto d = Condition::Parse(deep);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().message.find("nested deeper than 32 levels"), std::string::npos) << d.error().message;

  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "not ";
  EXPECT_FALSE(Condition::Parse(nots + "true").has_value());

  std::string many = "model == 'a'";
  for (int i = 0; i < 300; ++i) many += " or model == 'a'";
  EXPECT_FALSE(Condition::Parse(many).has_value());  // too many terms (or too long)

  EXPECT_FALSE(Condition::Parse(std::string(5000, ' ') + "true").has_value());

  std::string ok(20, '(');
  ok += "status == 'error'" + std::string(20, ')');
  auto parsed = Condition::Parse(ok);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  SpanView view;
  ASSERT_TRUE(view.Reset(kSpan));
  EXPECT_TRUE(parsed->Eval(view));
}

TEST(ConditionTest, ArbitraryBytesNeverCrash) {
  // A poor man's fuzz pass: every prefix of a few tricky texts parses or fails cleanly.
  const std::string texts[] = {"not (a.b == 'x\\'y' or exists(c)) and d in [1, -2.5e3, 'z', null, true]",
                               "a =~ '(?i)x+' and b != \"q\\\"\" or (((c)))", "\xff\xfe == '\x01'"};
  SpanView view;
  ASSERT_TRUE(view.Reset(kSpan));
  for (const auto& t : texts) {
    for (size_t n = 0; n <= t.size(); ++n) {
      auto c = Condition::Parse(t.substr(0, n));
      if (c) (void)c->Eval(view);
    }
  }
}

}  // namespace
}  // namespace spanvault::process
