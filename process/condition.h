// process/ — the condition language of `filter.condition` and `sample.keep`
// (docs/processors.md): parsed once at load into a small tree, evaluated
// against a span without allocating (but for a regex's decoded text).
//
//   expr    := and ("or" and)*
//   and     := unary ("and" unary)*
//   unary   := "not" unary | primary
//   primary := "(" expr ")" | "exists" "(" path ")" | "true" | "false"
//            | path ("==" | "!=" | "<" | "<=" | ">" | ">=") literal
//            | path ["not"] "in" "[" literal ("," literal)* "]"
//            | path "=~" string
//   literal := string ('...' or "...", \\ \' \" \n \t escapes) | number | true | false | null
//   path    := name ("." name)*, name := [A-Za-z_][A-Za-z0-9_-]*   (see span_view.h)
//
// Semantics: an absent field reads as null. `==`/`!=` compare equal kinds
// (a number with a number, a string with a string...; different kinds are
// unequal); `<`, `<=`, `>`, `>=` hold only between two numbers or two
// strings (byte order); `=~` holds when the field is a string that the RE2
// pattern matches anywhere (anchor with ^ and $); `exists(f)`: present and
// not null.
//
// Bounds: at most kMaxConditionBytes of text, kMaxDepth nested parentheses or
// `not`s, kMaxNodes terms. Parsing returns errors as values pointing at the
// column; it never throws and never recurses deeper than kMaxDepth.
//
// Threading: a parsed Condition is immutable; Eval may run on any number of
// threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "process/span_view.h"

namespace re2 {
class RE2;
}

namespace spanvault::process {

inline constexpr size_t kMaxConditionBytes = 4096;
inline constexpr int kMaxConditionDepth = 32;
inline constexpr size_t kMaxConditionNodes = 256;

class Condition {
 public:
  // Parses `text`. Errors: `condition "TEXT": column N: what` (the column of
  // the offending token, 1-based in bytes).
  static Result<Condition> Parse(std::string_view text);

  Condition(Condition&&) noexcept;
  Condition& operator=(Condition&&) noexcept;
  ~Condition();

  bool Eval(const SpanView& span) const;
  const std::string& text() const { return text_; }

  struct Literal {
    json::Kind kind = json::Kind::kNull;  // kNull, kBool, kNumber, kString
    bool boolean = false;
    double number = 0;
    std::string text;
  };
  enum class Op { kOr, kAnd, kNot, kTrue, kFalse, kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn, kMatch, kExists };
  struct Node {
    Op op = Op::kTrue;
    std::vector<int> children;  // kOr, kAnd, kNot
    std::string path;           // comparisons, kIn, kMatch, kExists
    std::vector<Literal> values;
    std::shared_ptr<const re2::RE2> regex;
  };

 private:
  Condition() = default;
  bool EvalNode(int node, const SpanView& span, int depth) const;

  std::string text_;
  std::vector<Node> nodes_;
  int root_ = 0;

  friend class ConditionParser;
};

}  // namespace spanvault::process
