// query/ internal — Service's state and the parts of it, one file each:
//   service.cc      routing, /api/traces (the list), /api/sessions/{id}, the tail
//   trace_view.cc   /api/traces/{id}: the tree, extra parents, rollups
//   stats_export.cc /api/stats, /api/export, ForEachSpan
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "buffer/span_queue.h"
#include "buffer/trace_index.h"
#include "query/filter.h"
#include "query/service.h"

namespace spanvault::query {

struct Service::Impl {
  buffer::SpanQueue& queue;
  // The most traces one list page, stats or export reads past non-matching
  // ones before it answers with what it has (and a cursor).
  static constexpr size_t kScanBudget = 200000;
  static constexpr size_t kMaxTraceSpans = 10000;  // spans shown of one trace

  const buffer::TraceIndex* index() const { return queue.traces(); }
  Response Traces(const Request& req) const;
  Response Trace(std::string_view trace_id) const;
  Response Session(std::string_view session_id) const;
  Response Stats(const Request& req) const;
  // Each matching trace, oldest first, with its spans in seq order.
  Status EachTraceSpans(const internal::Filter& f,
                        const std::function<bool(const buffer::TraceSummary&, const buffer::RecordBatch&)>& each) const;
};

Response JsonResponse(int status, const nlohmann::json& body);
Response ErrorResponse(int status, std::string_view reason);

}  // namespace spanvault::query
