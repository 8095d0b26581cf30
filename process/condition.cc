#include "process/condition.h"

#include <re2/re2.h>

#include <charconv>

namespace spanvault::process {
namespace {

enum class Tok { kEnd, kName, kString, kNumber, kLParen, kRParen, kLBracket, kRBracket, kComma, kOp, kBad };

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;         // byte offset in the text
  std::string_view text;  // as written
  std::string value;      // kString: decoded
  double number = 0;
  std::string bad;  // kBad: why
};

bool NameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

class ConditionParser {
 public:
  explicit ConditionParser(std::string_view text) : text_(text) {}

  Result<Condition> Run() {
    Condition c;
    c.text_ = std::string(text_);
    cond_ = &c;
    if (text_.size() > kMaxConditionBytes) {
      return Fail(Error::Invalid(Prefix() + "longer than " + std::to_string(kMaxConditionBytes) + " bytes"));
    }
    Next();
    int root = ParseOr(0);
    if (root < 0) return Fail(Error::Invalid(error_));
    if (tok_.kind != Tok::kEnd) {
      Expected("and, or or the end", tok_);
      return Fail(Error::Invalid(error_));
    }
    c.root_ = root;
    cond_ = nullptr;
    return c;
  }

 private:
  std::string Prefix() const { return "condition \"" + std::string(text_) + "\": "; }

  int Error(size_t pos, const std::string& what) {
    if (error_.empty()) error_ = Prefix() + "column " + std::to_string(pos + 1) + ": " + what;
    return -1;
  }
  int Expected(const std::string& what, const Token& got) {
    std::string g = got.kind == Tok::kEnd ? "the end" : "'" + std::string(got.text) + "'";
    if (got.kind == Tok::kBad) return Error(got.pos, got.bad);
    return Error(got.pos, "expected " + what + ", got " + g);
  }

  int Add(Condition::Node n) {
    if (cond_->nodes_.size() >= kMaxConditionNodes) {
      return Error(tok_.pos, "more than " + std::to_string(kMaxConditionNodes) + " terms");
    }
    cond_->nodes_.push_back(std::move(n));
    return static_cast<int>(cond_->nodes_.size() - 1);
  }

  void Next() {
    tok_ = Token{};
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
    tok_.pos = pos_;
    if (pos_ >= text_.size()) return;
    const char c = text_[pos_];
    size_t start = pos_;
    auto single = [&](Tok k) {
      tok_.kind = k;
      tok_.text = text_.substr(pos_++, 1);
    };
    switch (c) {
      case '(':
        return single(Tok::kLParen);
      case ')':
        return single(Tok::kRParen);
      case '[':
        return single(Tok::kLBracket);
      case ']':
        return single(Tok::kRBracket);
      case ',':
        return single(Tok::kComma);
      default:
        break;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
      std::string_view two = text_.substr(pos_, 2);
      if (two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "=~") {
        tok_.kind = Tok::kOp;
        tok_.text = two;
        pos_ += 2;
      } else if (c == '<' || c == '>') {
        single(Tok::kOp);
      } else {
        single(Tok::kBad);
        tok_.bad = "expected ==, !=, <, <=, >, >=, in or =~, got '" + std::string(tok_.text) + "'";
      }
      return;
    }
    if (c == '\'' || c == '"') {
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != c) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
          char e = text_[pos_ + 1];
          tok_.value.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          pos_ += 2;
        } else {
          tok_.value.push_back(text_[pos_++]);
        }
      }
      if (pos_ >= text_.size()) {
        tok_.kind = Tok::kBad;
        tok_.text = text_.substr(start);
        tok_.bad = "unterminated string";
        return;
      }
      ++pos_;
      tok_.kind = Tok::kString;
      tok_.text = text_.substr(start, pos_ - start);
      return;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      ++pos_;
      while (pos_ < text_.size() &&
             ((text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '.' || text_[pos_] == 'e' ||
              text_[pos_] == 'E' || text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      tok_.text = text_.substr(start, pos_ - start);
      auto [p, ec] = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), tok_.number);
      if (ec != std::errc() || p != tok_.text.data() + tok_.text.size()) {
        tok_.kind = Tok::kBad;
        tok_.bad = "'" + std::string(tok_.text) + "' is not a number";
      } else {
        tok_.kind = Tok::kNumber;
      }
      return;
    }
    if (NameStart(c)) {
      while (pos_ < text_.size() &&
             (NameChar(text_[pos_]) || (text_[pos_] == '.' && pos_ + 1 < text_.size() && NameChar(text_[pos_ + 1])))) {
        ++pos_;
      }
      tok_.kind = Tok::kName;
      tok_.text = text_.substr(start, pos_ - start);
      return;
    }
    single(Tok::kBad);
    tok_.bad = "unexpected '" + std::string(tok_.text) + "'";
  }

  bool IsWord(std::string_view w) const { return tok_.kind == Tok::kName && tok_.text == w; }

  int ParseOr(int depth) {
    int first = ParseAnd(depth);
    if (first < 0 || !IsWord("or")) return first;
    Condition::Node n;
    n.op = Condition::Op::kOr;
    n.children.push_back(first);
    while (IsWord("or")) {
      Next();
      int next = ParseAnd(depth);
      if (next < 0) return -1;
      n.children.push_back(next);
    }
    return Add(std::move(n));
  }

  int ParseAnd(int depth) {
    int first = ParseUnary(depth);
    if (first < 0 || !IsWord("and")) return first;
    Condition::Node n;
    n.op = Condition::Op::kAnd;
    n.children.push_back(first);
    while (IsWord("and")) {
      Next();
      int next = ParseUnary(depth);
      if (next < 0) return -1;
      n.children.push_back(next);
    }
    return Add(std::move(n));
  }

  int ParseUnary(int depth) {
    if (depth >= kMaxConditionDepth) {
      return Error(tok_.pos, "nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
    }
    if (IsWord("not")) {
      Next();
      int child = ParseUnary(depth + 1);
      if (child < 0) return -1;
      Condition::Node n;
      n.op = Condition::Op::kNot;
      n.children.push_back(child);
      return Add(std::move(n));
    }
    return ParsePrimary(depth);
  }

  bool IsKeyword() const {
    for (std::string_view w : {"and", "or", "not", "in", "true", "false", "null", "exists"}) {
      if (tok_.text == w) return true;
    }
    return false;
  }

  int ParseLiteral(Condition::Literal* lit) {
    switch (tok_.kind) {
      case Tok::kString:
        lit->kind = json::Kind::kString;
        lit->text = tok_.value;
        break;
      case Tok::kNumber:
        lit->kind = json::Kind::kNumber;
        lit->number = tok_.number;
        break;
      case Tok::kName:
        if (tok_.text == "true" || tok_.text == "false") {
          lit->kind = json::Kind::kBool;
          lit->boolean = tok_.text == "true";
          break;
        }
        if (tok_.text == "null") {
          lit->kind = json::Kind::kNull;
          break;
        }
        [[fallthrough]];
      default:
        return Expected("a string, a number, true, false or null", tok_);
    }
    Next();
    return 0;
  }

  int ParsePrimary(int depth) {
    if (tok_.kind == Tok::kLParen) {
      Next();
      int inner = ParseOr(depth + 1);
      if (inner < 0) return -1;
      if (tok_.kind != Tok::kRParen) return Expected("')'", tok_);
      Next();
      return inner;
    }
    if (IsWord("true") || IsWord("false")) {
      Condition::Node n;
      n.op = tok_.text == "true" ? Condition::Op::kTrue : Condition::Op::kFalse;
      Next();
      return Add(std::move(n));
    }
    if (IsWord("exists")) {
      Next();
      if (tok_.kind != Tok::kLParen) return Expected("'(' after exists", tok_);
      Next();
      if (tok_.kind != Tok::kName || IsKeyword()) return Expected("a field", tok_);
      Condition::Node n;
      n.op = Condition::Op::kExists;
      n.path = std::string(tok_.text);
      Next();
      if (tok_.kind != Tok::kRParen) return Expected("')'", tok_);
      Next();
      return Add(std::move(n));
    }
    if (tok_.kind != Tok::kName || IsKeyword()) return Expected("a field, '(', not, exists, true or false", tok_);
    Condition::Node n;
    n.path = std::string(tok_.text);
    Next();
    bool negated_in = false;
    if (IsWord("not")) {
      Next();
      if (!IsWord("in")) return Expected("in after not", tok_);
      negated_in = true;
    }
    if (IsWord("in")) {
      n.op = negated_in ? Condition::Op::kNotIn : Condition::Op::kIn;
      Next();
      if (tok_.kind != Tok::kLBracket) return Expected("'['", tok_);
      Next();
      for (;;) {
        if (n.values.size() >= kMaxConditionNodes) return Error(tok_.pos, "list longer than 256 values");
        Condition::Literal lit;
        if (ParseLiteral(&lit) < 0) return -1;
        n.values.push_back(std::move(lit));
        if (tok_.kind == Tok::kComma) {
          Next();
          continue;
        }
        if (tok_.kind == Tok::kRBracket) break;
        return Expected("',' or ']'", tok_);
      }
      Next();
      return Add(std::move(n));
    }
    if (tok_.kind == Tok::kBad) return Expected("", tok_);
    if (tok_.kind != Tok::kOp) return Expected("==, !=, <, <=, >, >=, in or =~", tok_);
    std::string_view op = tok_.text;
    size_t op_pos = tok_.pos;
    Next();
    if (op == "=~") {
      if (tok_.kind != Tok::kString) return Expected("a pattern in quotes after =~", tok_);
      RE2::Options o;
      o.set_log_errors(false);
      o.set_max_mem(8 << 20);
      auto re = std::make_shared<RE2>(tok_.value, o);
      if (!re->ok()) return Error(tok_.pos, "bad pattern: " + re->error());
      n.op = Condition::Op::kMatch;
      n.regex = std::move(re);
      Next();
      return Add(std::move(n));
    }
    n.op = op == "=="   ? Condition::Op::kEq
           : op == "!=" ? Condition::Op::kNe
           : op == "<"  ? Condition::Op::kLt
           : op == "<=" ? Condition::Op::kLe
           : op == ">"  ? Condition::Op::kGt
                        : Condition::Op::kGe;
    (void)op_pos;
    Condition::Literal lit;
    if (ParseLiteral(&lit) < 0) return -1;
    n.values.push_back(std::move(lit));
    return Add(std::move(n));
  }

  std::string_view text_;
  size_t pos_ = 0;
  Token tok_;
  std::string error_;
  Condition* cond_ = nullptr;
};

namespace {

bool Equal(const json::Scalar& f, const Condition::Literal& l) {
  if (f.kind != l.kind) return false;
  switch (l.kind) {
    case json::Kind::kNull:
      return true;
    case json::Kind::kBool:
      return f.boolean == l.boolean;
    case json::Kind::kNumber:
      return f.number == l.number;
    case json::Kind::kString:
      return f.text == l.text;
    default:
      return false;
  }
}

// -1, 0, 1; 2 when the two cannot be ordered.
int Order(const json::Scalar& f, const Condition::Literal& l) {
  if (f.kind == json::Kind::kNumber && l.kind == json::Kind::kNumber) {
    return f.number < l.number ? -1 : f.number > l.number ? 1 : 0;
  }
  if (f.kind == json::Kind::kString && l.kind == json::Kind::kString) {
    int c = f.text.compare(l.text);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return 2;
}

}  // namespace

Result<Condition> Condition::Parse(std::string_view text) { return ConditionParser(text).Run(); }

Condition::Condition(Condition&&) noexcept = default;
Condition& Condition::operator=(Condition&&) noexcept = default;
Condition::~Condition() = default;

bool Condition::Eval(const SpanView& span) const {
  if (nodes_.empty()) return false;
  return EvalNode(root_, span, 0);
}

bool Condition::EvalNode(int index, const SpanView& span, int depth) const {
  // The parser bounds the depth; this guards a tree built otherwise.
  if (depth > 2 * kMaxConditionDepth + 2) return false;
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::kOr:
      for (int c : n.children) {
        if (EvalNode(c, span, depth + 1)) return true;
      }
      return false;
    case Op::kAnd:
      for (int c : n.children) {
        if (!EvalNode(c, span, depth + 1)) return false;
      }
      return true;
    case Op::kNot:
      return !EvalNode(n.children[0], span, depth + 1);
    case Op::kTrue:
      return true;
    case Op::kFalse:
      return false;
    default:
      break;
  }
  std::string scratch;
  std::string_view raw = span.Find(n.path);
  json::Scalar f;
  if (raw.empty()) {
    f.kind = json::Kind::kNull;
  } else {
    f = json::ReadScalar(raw, scratch);
  }
  switch (n.op) {
    case Op::kExists:
      return f.kind != json::Kind::kNull;
    case Op::kEq:
      return Equal(f, n.values[0]);
    case Op::kNe:
      return !Equal(f, n.values[0]);
    case Op::kIn:
    case Op::kNotIn: {
      bool any = false;
      for (const Literal& l : n.values) {
        if (Equal(f, l)) {
          any = true;
          break;
        }
      }
      return n.op == Op::kIn ? any : !any;
    }
    case Op::kMatch:
      return f.kind == json::Kind::kString &&
             RE2::PartialMatch(re2::StringPiece(f.text.data(), f.text.size()), *n.regex);
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      int o = Order(f, n.values[0]);
      if (o == 2) return false;
      return n.op == Op::kLt ? o < 0 : n.op == Op::kLe ? o <= 0 : n.op == Op::kGt ? o > 0 : o >= 0;
    }
    default:
      return false;
  }
}

}  // namespace spanvault::process
