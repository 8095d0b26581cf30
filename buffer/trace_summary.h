// buffer/ — what the trace index (trace_index.h) keeps per trace: the
// summary docs/api.md shows, the sets the filters match, and per model and
// per type the material /api/stats aggregates. Built span by span from the
// stored span JSON (ParseSpanFacts: simdjson on-demand, only the fields
// needed) and stored as MessagePack in the index database. No I/O; plain
// values, not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spanvault::buffer {

// The fields of one canonical span (docs/span.md) the index needs.
struct SpanFacts {
  std::string trace_id, span_id, parent_span_id, name, type, status;
  std::string start_time, end_time;  // canonical RFC 3339 (trailing fraction zeros dropped: compare with TimeBefore)
  std::string model, service, environment, session_id, user_id;
  std::vector<std::string> tags;
  std::vector<std::string> span_parents;  // as stored (a DAG's parents)
  double duration_ms = 0;
  uint64_t input_tokens = 0, output_tokens = 0, total_tokens = 0;
  double cost = 0;
  bool is_root = true;  // no parent_span_id and no span_parents
};
// False when `json` is not a span object with a trace_id.
bool ParseSpanFacts(std::string_view json, SpanFacts& out);

// Calls, errors, tokens, cost and (at most kMaxDurations) span durations.
struct StatCell {
  static constexpr size_t kMaxDurations = 64;
  uint64_t calls = 0, errors = 0, input_tokens = 0, output_tokens = 0, total_tokens = 0;
  double cost = 0;
  std::vector<float> durations_ms;
  void Add(const SpanFacts& f);
  void Merge(const StatCell& o);  // durations: keeps every one (the caller bounds the total)
};

struct TraceSummary {
  static constexpr size_t kMaxSetValues = 32;  // per set; more are not indexed
  std::string trace_id;
  uint64_t first_seq = 0;  // the seq of its first stored span: the list order
  int64_t first_received_ns = 0;
  std::string name, root_span_id, root_start;             // of the earliest root span
  std::string service, environment, session_id, user_id;  // the root's, else the first seen
  std::string start_time, end_time;
  uint64_t spans = 0, errors = 0, input_tokens = 0, output_tokens = 0, total_tokens = 0;
  double cost = 0;
  // Sorted, distinct, at most kMaxSetValues each.
  std::vector<std::string> models, types, tags, services, environments, sessions, users, names;
  std::map<std::string, StatCell> by_model, by_type;

  // Adds a span. `new_keys`, when given, receives the secondary keys the
  // trace gained (TraceIndex::Field as a char, value): sets only grow.
  void Add(const SpanFacts& f, uint64_t seq, int64_t received_ns,
           std::vector<std::pair<char, std::string>>* new_keys = nullptr);
  double duration_ms() const;
  int64_t start_ns() const;  // 0 when unknown
  // The summary object of docs/api.md ("Trace summary").
  nlohmann::json ToJson() const;
  std::string Encode() const;
  static std::optional<TraceSummary> Decode(std::string_view bytes);
};

// The tail's one-line span summary (docs/api.md, GET /api/tail).
nlohmann::json SpanLineJson(const SpanFacts& f);

// Nanoseconds since the epoch of a canonical time; nullopt when malformed.
std::optional<int64_t> CanonicalTimeNs(std::string_view t);
// a < b as instants (stored times drop trailing fraction zeros, so the text
// order is not the time order); an unparsable time sorts by its text.
bool TimeBefore(std::string_view a, std::string_view b);

}  // namespace spanvault::buffer
