// Answers shaped exactly as docs/api.md says, for the render tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace spanvault::testing {

using nlohmann::json;

inline json Summary(const std::string& id, const std::string& name, double duration_ms, int spans, int errors,
                    uint64_t tokens, double cost) {
  return {{"trace_id", id},
          {"name", name.empty() ? json(nullptr) : json(name)},
          {"root_span_id", "00f067aa0ba902b7"},
          {"service", "rag-api"},
          {"environment", "prod"},
          {"session_id", "chat-42"},
          {"user_id", "u-7"},
          {"start_time", "2026-12-07T10:00:00.000000000Z"},
          {"end_time", "2026-12-07T10:00:02.310000000Z"},
          {"duration_ms", duration_ms},
          {"spans", spans},
          {"errors", errors},
          {"status", errors > 0 ? "error" : "ok"},
          {"input_tokens", tokens * 8 / 10},
          {"output_tokens", tokens - tokens * 8 / 10},
          {"total_tokens", tokens},
          {"cost", cost},
          {"models", {"gpt-4o-mini"}},
          {"types", {"agent", "retrieval", "generation", "tool"}},
          {"tags", {"beta"}}};
}

// A canonical span as stored (docs/span.md), starting `start_ms` after
// 10:00:00 and lasting `dur_ms`.
inline json StoredSpan(const std::string& id, const std::string& parent, const std::string& type,
                       const std::string& name, int start_ms, int dur_ms) {
  char start[64], end[64];
  std::snprintf(start, sizeof start, "2026-12-07T10:00:%02d.%03d000000Z", start_ms / 1000, start_ms % 1000);
  int e = start_ms + dur_ms;
  std::snprintf(end, sizeof end, "2026-12-07T10:00:%02d.%03d000000Z", e / 1000, e % 1000);
  json s = {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
            {"span_id", id},
            {"name", name},
            {"type", type},
            {"start_time", start},
            {"end_time", end},
            {"duration_ms", dur_ms},
            {"status", "ok"},
            {"service", "rag-api"}};
  if (!parent.empty()) s["parent_span_id"] = parent;
  return s;
}

inline json Entry(json span, int depth, std::vector<std::string> children, json rollup = json::object(),
                  std::vector<std::string> extra_parents = {}) {
  if (rollup.empty())
    rollup = {{"spans", 1}, {"errors", 0}, {"input_tokens", 0}, {"output_tokens", 0}, {"total_tokens", 0}, {"cost", 0}};
  return {{"span", std::move(span)},
          {"depth", depth},
          {"children", children},
          {"extra_parents", extra_parents},
          {"rollup", std::move(rollup)}};
}

// rag-answer (agent, 0-2310 ms)
// ├─ embed (retrieval, 0-45)
// ├─ search (retrieval, 45-165)
// ├─ tool-a (tool, 200-700)      ┐ parallel
// ├─ tool-b (tool, 200-900)      ┘
// │  └─ merge (span, 900-950; extra parent tool-a)
// └─ answer (generation, 950-2300, 1730 tokens, $0.00594, error)
inline json TreeAnswer() {
  json gen = StoredSpan("a5", "root", "generation", "answer", 950, 1350);
  gen["model"] = "gpt-4o-mini";
  gen["usage"] = {{"input_tokens", 1520}, {"output_tokens", 210}, {"total_tokens", 1730}};
  gen["cost"] = {{"total", 0.00594}, {"currency", "USD"}};
  gen["status"] = "error";
  gen["error"] = "rate limited: retry after 2s";
  json merge = StoredSpan("a6", "a4", "span", "merge", 900, 50);
  merge["span_parents"] = {"a4", "a3"};
  json rollup_root = {{"spans", 7},           {"errors", 1},          {"input_tokens", 1520},
                      {"output_tokens", 210}, {"total_tokens", 1730}, {"cost", 0.00594}};
  json spans = json::array(
      {Entry(StoredSpan("root", "", "agent", "rag-answer", 0, 2310), 0, {"a1", "a2", "a3", "a4", "a5"}, rollup_root),
       Entry(StoredSpan("a1", "root", "retrieval", "embed", 0, 45), 1, {}),
       Entry(StoredSpan("a2", "root", "retrieval", "search", 45, 120), 1, {}),
       Entry(StoredSpan("a3", "root", "tool", "tool-a", 200, 500), 1, {"a6"}),
       Entry(StoredSpan("a4", "root", "tool", "tool-b", 200, 700), 1, {"a6"}),
       Entry(merge, 2, {}, json::object(), {"a3"}),
       Entry(gen, 1, {}, {{"spans", 1}, {"errors", 1}, {"total_tokens", 1730}, {"cost", 0.00594}})});
  return {{"trace", Summary("4bf92f3577b34da6a3ce929d0e0e4736", "rag-answer", 2310, 7, 1, 1730, 0.00594)},
          {"roots", {"root"}},
          {"spans", spans}};
}

}  // namespace spanvault::testing
