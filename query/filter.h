// query/ internal — the request parameters of docs/api.md ("Filters"):
// parsed and checked (an unknown parameter, a bad time, a bad number or a bad
// cursor is a 400 with its reason), and matched against a trace summary. No
// I/O; plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "buffer/trace_index.h"
#include "common/error.h"
#include "query/service.h"

namespace spanvault::query::internal {

struct Filter {
  std::optional<int64_t> from_ns, to_ns;
  std::vector<buffer::TraceIndex::Key> keys;  // every one must match
  std::optional<bool> error;                  // status=error (true) / ok (false)
  std::optional<double> min_cost, min_duration_ms;
  std::string q;  // lowercased
  size_t limit = 50;
  bool limit_set = false;
  uint64_t cursor = 0;  // list: traces below this first seq (0: from the newest)
  // Other parameters the path allows (group_by, shape, span_type), by name.
  std::vector<std::pair<std::string, std::string>> extra;
  std::string Extra(std::string_view name, std::string_view fallback) const;
};

// `allowed_extra`: the path's own parameters beyond the filters.
// `max_limit`: 0 for unlimited (export). Errors: kInvalidArgument, the reason.
Result<Filter> ParseFilter(const Request& req, const std::vector<std::string_view>& allowed_extra, size_t max_limit,
                           int64_t now_ns);

// The key the scan goes through: the most selective one, if any.
std::optional<buffer::TraceIndex::Key> DriverKey(const Filter& f);

bool Matches(const buffer::TraceSummary& t, const Filter& f);

std::string EncodeCursor(uint64_t first_seq);

}  // namespace spanvault::query::internal
