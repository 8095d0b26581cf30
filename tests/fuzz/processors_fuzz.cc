// fuzz-flags: -max_len=65536
// libFuzzer target for the processors (process/): the condition language and
// the span scanner that redact, filter, truncate and set run over stored
// spans. Input: the first line is a condition, the rest a span (any bytes).
// Properties checked on every input:
//   - the condition parses or fails with a message naming a column; a parsed
//     one evaluates against the span (any bytes) without crashing;
//   - the detectors return ordered, non-overlapping matches inside the text;
//   - a chain (filter on the condition, redact in each action, truncate, set)
//     either drops the span or returns valid JSON when the span was a valid
//     JSON object, and runs the same way twice (no hidden state but counters).
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_util.h"
#include "process/chain.h"
#include "process/condition.h"
#include "process/detectors.h"

using namespace spanvault;
using namespace spanvault::process;

namespace {

std::vector<ProcessorConfig> Defs(std::string_view condition, bool condition_ok) {
  std::vector<ProcessorConfig> d;
  ProcessorConfig f;
  f.name = "f";
  f.type = "filter";
  f.condition = condition_ok ? std::string(condition) : "false";
  f.fields = {"attributes.drop"};
  d.push_back(f);
  for (const char* action : {"mask", "hash", "drop_field"}) {
    ProcessorConfig r;
    r.name = std::string("r-") + action;
    r.type = "redact";
    r.action = action;
    r.hash_key = "k";
    r.patterns = {"(?i)secret[0-9]+"};
    r.max_scan_bytes = 4096;
    d.push_back(r);
  }
  ProcessorConfig t;
  t.name = "t";
  t.type = "truncate";
  t.max_bytes = 64;
  d.push_back(t);
  ProcessorConfig s;
  s.name = "s";
  s.type = "set";
  s.set = {{"attributes.team", "\"x\""}, {"environment", "\"prod\""}, {"attributes.n", "1"}};
  s.rename = {{"attributes.a", "attributes.b"}};
  s.remove = {"session_id"};
  d.push_back(s);
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::AsText(data, size);
  std::string_view condition = fuzz::NextLine(in);
  const std::string span(in);

  auto parsed = Condition::Parse(condition);
  if (!parsed)
    FUZZ_CHECK(parsed.error().message.find(": column ") != std::string::npos ||
               parsed.error().message.find("longer than") != std::string::npos);
  SpanView view;
  if (view.Reset(span) && parsed) (void)parsed->Eval(view);

  std::vector<Match> matches;
  Detect(span, kAllBuiltIn, matches);
  for (size_t i = 0; i < matches.size(); ++i) {
    FUZZ_CHECK(matches[i].begin < matches[i].end && matches[i].end <= span.size());
    if (i > 0) FUZZ_CHECK(matches[i - 1].end <= matches[i].begin);
  }

  const bool valid_object = [&] {
    auto j = nlohmann::json::parse(span, nullptr, false);
    return !j.is_discarded() && j.is_object();
  }();
  auto defs = Defs(condition, parsed.has_value());
  for (std::vector<std::string> order :
       {std::vector<std::string>{"f", "r-mask", "t", "s"}, std::vector<std::string>{"r-hash"},
        std::vector<std::string>{"r-drop_field"}}) {
    auto chain = Chain::Create(defs, order);
    FUZZ_CHECK(chain.has_value());
    std::string a, b;
    Verdict va = (*chain)->Apply(span, a);
    Verdict vb = (*chain)->Apply(span, b);
    FUZZ_CHECK(va == vb && (va != Verdict::kChanged || a == b));
    if (valid_object && va != Verdict::kDrop) {
      const std::string& out = va == Verdict::kChanged ? a : span;
      FUZZ_CHECK(!nlohmann::json::parse(out, nullptr, false).is_discarded());
    }
  }
  return 0;
}
