// [[processor]] tables and `processors = [...]` in a real config file
// (LoadConfig): what loads, and every problem reported at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "config/config.h"
#include "tests/test_util.h"

namespace spanvault::daemon {
namespace {

using spanvault::testing::TempDir;

std::vector<std::string> Load(const TempDir& dir, const std::string& toml, Config* out = nullptr) {
  std::string path = dir.str() + "/c.toml";
  std::ofstream(path) << toml;
  LoadOptions o;
  o.config_file = path;
  o.use_environment = false;
  std::vector<std::string> problems;
  Config c = LoadConfig(o, &problems);
  if (out) *out = c;
  return problems;
}

TEST(ProcessorConfigLoadTest, LoadsTablesAndResolvesThemPerUpstream) {
  TempDir dir;
  setenv("SV_TEST_HASH_KEY", "s3cret", 1);
  Config c;
  auto problems = Load(dir, R"(
[[processor]]
name = "pii"
type = "redact"
detectors = ["email", "api_key"]
patterns = ['(?i)ssn[:= ]+\d{3}-\d{2}-\d{4}']
fields = ["input", "output", "metadata"]
action = "hash"
hash_key = "${SV_TEST_HASH_KEY}"
max_scan_bytes = "256KiB"

[[processor]]
name = "keep-10pct"
type = "sample"
rate = 0.1
hash_seed = 42

[[processor]]
name = "no-health"
type = "filter"
condition = "attributes.http.route == '/healthz'"

[[processor]]
name = "trim"
type = "truncate"
max_bytes = "4KiB"

[[processor]]
name = "tidy"
type = "set"
set = { environment = "prod", "attributes.team" = "search", attributes.tier = 3 }
rename = { "attributes.old" = "attributes.new" }
delete = ["attributes.secret"]

[[upstream]]
name = "saas"
endpoint = "https://example.com/v1/traces"
processors = ["no-health", "pii", "keep-10pct", "trim", "tidy"]

[[upstream]]
name = "local"
endpoint = "http://127.0.0.1:9/v1/spans"
)",
                       &c);
  ASSERT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  ASSERT_EQ(c.processor_defs.size(), 5u);
  const auto& pii = c.processor_defs[0];
  EXPECT_EQ(pii.detectors, (std::vector<std::string>{"email", "api_key"}));
  EXPECT_EQ(pii.hash_key, "s3cret");
  EXPECT_EQ(pii.max_scan_bytes, 256u << 10);
  EXPECT_EQ(c.processor_defs[1].rate, 0.1);
  EXPECT_EQ(c.processor_defs[1].hash_seed, 42u);
  EXPECT_EQ(c.processor_defs[3].max_bytes, 4096u);
  const auto& tidy = c.processor_defs[4];
  auto set = tidy.set;  // TOML tables have no order
  std::sort(set.begin(), set.end());
  EXPECT_EQ(set, (std::vector<std::pair<std::string, std::string>>{
                     {"attributes.team", "\"search\""}, {"attributes.tier", "3"}, {"environment", "\"prod\""}}));
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_EQ(c.upstreams[0].processors.size(), 5u);
  ASSERT_EQ(c.upstreams[0].processor_defs.size(), 5u);
  EXPECT_EQ(c.upstreams[0].processor_defs[0].name, "no-health");
  EXPECT_TRUE(c.upstreams[1].processor_defs.empty());
}

TEST(ProcessorConfigLoadTest, EveryProblemAtOnce) {
  TempDir dir;
  auto problems = Load(dir, R"(
[[processor]]
name = "pii"
type = "redact"
detectors = ["email", "ssn"]
patterns = ['(']
rate = 0.5

[[processor]]
name = "pii"
type = "filter"
condition = "status = 'error'"

[[processor]]
name = "x"
type = "scrub"

[[processor]]
name = "k"
type = "sample"
rate = 2

[[upstream]]
name = "saas"
endpoint = "https://example.com/v1/traces"
processors = ["pii", "missing"]
)");
  auto has = [&](const std::string& s) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(has("processor[0].rate: unknown key for type \"redact\"")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(has("processor pii: detector \"ssn\" is not one of"));
  EXPECT_TRUE(has("processor pii: pattern '(': missing ): ("));
  EXPECT_TRUE(
      has("processor pii: condition \"status = 'error'\": column 8: expected ==, !=, <, <=, >, >=, in or =~, got '='"));
  EXPECT_TRUE(has("processor pii: the name is used twice"));
  EXPECT_TRUE(has("processor x: type \"scrub\" is not one of redact, sample, filter, truncate, set"));
  EXPECT_TRUE(has("processor k: rate must be between 0 and 1"));
  EXPECT_TRUE(has("upstream saas: processor \"missing\" is not defined by any [[processor]]"));
}

TEST(ProcessorConfigLoadTest, IngestProcessorsAreATopLevelList) {
  TempDir dir;
  Config c;
  const std::string defs = R"(
[[processor]]
name = "pii"
type = "redact"

[[processor]]
name = "errors"
type = "sample"
rate = 0.5
keep = ["status == 'error'"]
)";
  auto problems = Load(dir, "processors = [\"pii\"]\n" + defs, &c);
  ASSERT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  EXPECT_EQ(c.processors, std::vector<std::string>{"pii"});
  problems = Load(dir, "processors = [\"errors\", \"nope\"]\n" + defs);
  EXPECT_EQ(problems, (std::vector<std::string>{
                          "processors (ingest): processor errors: keep conditions need decision_wait, which only an "
                          "upstream's processors have",
                          "processors (ingest): processor \"nope\" is not defined by any [[processor]]"}));
}

}  // namespace
}  // namespace spanvault::daemon
