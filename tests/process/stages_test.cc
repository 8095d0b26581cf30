// The ingest side of the processors, without a daemon: IngestStage (top-level
// `processors`) rewrites and drops the spans of a span::Batch; KeepStage marks
// the traces that sample.keep conditions match, for the upstreams' chains.
#include <gtest/gtest.h>

#include "process/chain.h"
#include "process/ingest_stage.h"
#include "process/keep_set.h"
#include "process/keep_stage.h"
#include "span/batch.h"

namespace spanvault::process {
namespace {

span::Batch MakeBatch(const std::vector<std::string>& spans) {
  span::Batch b;
  for (const auto& s : spans) {
    b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(s.size())});
    b.data += s;
  }
  return b;
}

std::vector<ProcessorConfig> Defs() {
  ProcessorConfig pii;
  pii.name = "pii";
  pii.type = "redact";
  ProcessorConfig health;
  health.name = "no-health";
  health.type = "filter";
  health.condition = "name == 'health'";
  ProcessorConfig keep;
  keep.name = "errors";
  keep.type = "sample";
  keep.rate = 0;
  keep.keep = {"status == 'error'"};
  return {pii, health, keep};
}

TEST(IngestStageTest, RewritesAndDropsSpansOfABatch) {
  IngestStage stage;
  span::Batch untouched = MakeBatch({R"({"name":"a","input":"jane@example.com"})"});
  EXPECT_EQ(stage.Apply(untouched), 0u);  // no chain: nothing
  ASSERT_TRUE(stage.Update(Defs(), {"no-health", "pii"}).has_value());
  span::Batch b = MakeBatch(
      {R"({"name":"health"})", R"({"name":"a","input":"jane@example.com"})", R"({"name":"b","input":"nothing"})"});
  EXPECT_EQ(stage.Apply(b), 1u);
  ASSERT_EQ(b.spans.size(), 2u);
  EXPECT_EQ(b.SpanAt(0), R"({"name":"a","input":"[EMAIL]"})");
  EXPECT_EQ(b.SpanAt(1), R"({"name":"b","input":"nothing"})");
  ASSERT_NE(stage.chain(), nullptr);
  EXPECT_EQ(stage.chain()->Stats().dropped_filter, 1u);
  // Keep conditions cannot run at ingest; the chain in force stays.
  auto refused = stage.Update(Defs(), {"errors"});
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("keep conditions need decision_wait"), std::string::npos);
  EXPECT_EQ(stage.chain()->names(), (std::vector<std::string>{"no-health", "pii"}));
  ASSERT_TRUE(stage.Update(Defs(), {}).has_value());
  EXPECT_EQ(stage.chain(), nullptr);
}

TEST(KeepStageTest, MarksTheTracesOfMatchingSpansForTheUpstreamChains) {
  auto marks = std::make_shared<KeepSet>();
  KeepStage stage(marks);
  ASSERT_TRUE(stage.Update(Defs(), {"pii", "errors", "errors"}).has_value());
  span::Batch b = MakeBatch(
      {R"({"name":"x","trace_id":"bad","status":"error"})", R"({"name":"y","trace_id":"good","status":"ok"})"});
  stage.Apply(b);
  EXPECT_EQ(marks->size(), 1u);
  auto chain = Chain::Create(Defs(), {"errors"}, marks);
  ASSERT_TRUE(chain.has_value());
  std::string out;
  EXPECT_EQ((*chain)->Apply(R"({"name":"z","trace_id":"bad","status":"ok"})", out), Verdict::kUnchanged);
  EXPECT_EQ((*chain)->Apply(R"({"name":"z","trace_id":"good","status":"ok"})", out), Verdict::kDrop);
  // Not used by any upstream: no rules, nothing marked.
  KeepStage unused(std::make_shared<KeepSet>());
  ASSERT_TRUE(unused.Update(Defs(), {"pii"}).has_value());
  unused.Apply(b);
}

}  // namespace
}  // namespace spanvault::process
