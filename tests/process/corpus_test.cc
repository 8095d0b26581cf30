// The redact processor against a corpus of realistic prompts with planted
// secrets and personal data, and look-alikes that must survive
// (tests/process/corpus/prompts.jsonl: one {"text","secrets","keep"} a line).
// Each text is sent as a plain input, as an OpenAI message, as an Anthropic
// content part and as an attribute.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "process/chain.h"

namespace spanvault::process {
namespace {

using nlohmann::json;

TEST(RedactCorpusTest, PlantedSecretsGoLookAlikesStay) {
  std::ifstream f(std::string(SPANVAULT_SOURCE_DIR) + "/tests/process/corpus/prompts.jsonl");
  ASSERT_TRUE(f.good());
  ProcessorConfig c;
  c.name = "pii";
  c.type = "redact";
  c.patterns = {R"((?i)ssn[:= ]+\d{3}-\d{2}-\d{4})"};
  auto chain = Chain::Create({c}, {"pii"});
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  int rows = 0, secrets = 0;
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    json row = json::parse(line, nullptr, false);
    ASSERT_TRUE(row.is_object()) << line;
    ++rows;
    const std::string text = row["text"];
    json span = {{"name", "chat"},
                 {"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
                 {"input", {{"messages", {{{"role", "user"}, {"content", text}}}}}},
                 {"output", {{"content", {{{"type", "text"}, {"text", text}}}}}},
                 {"expected", text},
                 {"attributes", {{"prompt", text}}}};
    std::string in = span.dump(), out;
    Verdict v = (*chain)->Apply(in, out);
    ASSERT_NE(v, Verdict::kDrop) << text;
    const std::string& result = v == Verdict::kChanged ? out : in;
    json r = json::parse(result, nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << result;
    for (const std::string where :
         {"/input/messages/0/content", "/output/content/0/text", "/expected", "/attributes/prompt"}) {
      std::string got = r[json::json_pointer(where)];
      for (const auto& s : row["secrets"]) {
        EXPECT_EQ(got.find(s.get<std::string>()), std::string::npos) << s << " left in " << where << ": " << got;
      }
      for (const auto& k : row["keep"]) {
        EXPECT_NE(got.find(k.get<std::string>()), std::string::npos) << k << " lost in " << where << ": " << got;
      }
    }
    secrets += static_cast<int>(row["secrets"].size());
  }
  EXPECT_GE(rows, 10);
  EXPECT_GE(secrets, 20);
}

}  // namespace
}  // namespace spanvault::process
