// process/ — a span as the processors read it: its top-level members indexed
// once (raw slices of the canonical JSON, json_scan.h), and field lookup by
// dotted path for conditions and edits.
//
// Paths: the first segment names a top-level member (`status`, `model`,
// `cost`, `usage`, `attributes`, ...); each further segment goes one object
// deeper. Attribute keys are usually flat and dotted (OTLP's "http.route"),
// so at every level the whole rest of the path is tried as one key first,
// then its first segment: `attributes.http.route` finds
// {"attributes":{"http.route":"/x"}} and {"attributes":{"http":{"route":"/x"}}}
// (the flat key wins when both exist). `metadata` is an alias of `attributes`
// (the decoder merges them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "process/json_scan.h"

namespace spanvault::process {

class SpanView {
 public:
  // Indexes `span` (a canonical span object; the text must outlive the
  // view). False when it is not a readable object.
  bool Reset(std::string_view span);
  // Points the view at `span` without indexing it (members() is empty until
  // Reset): for processors that read the text alone.
  void SetText(std::string_view span) {
    text_ = span;
    members_.clear();
  }

  struct Member {
    std::string_view key;  // raw (canonical keys have no escapes)
    std::string_view value;
  };
  const std::vector<Member>& members() const { return members_; }
  std::string_view text() const { return text_; }

  // The raw value at `path` ("cost.total", "attributes.http.route"), or an
  // empty view when absent.
  std::string_view Find(std::string_view path) const;
  // A top-level member's raw value, or empty.
  std::string_view Top(std::string_view key) const;

 private:
  std::string_view text_;
  std::vector<Member> members_;
};

// The raw value at `path` inside the object `obj` (same rule as SpanView).
std::string_view FindIn(std::string_view obj, std::string_view path);

}  // namespace spanvault::process
