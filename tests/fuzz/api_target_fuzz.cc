// fuzz-flags: -max_len=10000
// libFuzzer target for the query API's request targets (ipc/http_api.h):
// the input is a request target as a browser or any local process may send
// it to GET /api/...
// Properties: no crash or sanitizer report; a refused target has a reason
// bounded by the target's size (it may quote a parameter name; the answer is
// JSON, so its bytes are escaped there); an accepted one came from at most
// kMaxApiTargetBytes bytes, has at most kMaxApiParams parameters with
// non-empty names, and decoded names and values never longer than the target.
#include <cstdlib>
#include <string>

#include "ipc/http_api.h"

using namespace spanvault::ipc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  (void)MatchApiRoute(target);
  ApiRequest r;
  std::string why = ParseApiTarget(target, &r);
  if (!why.empty()) {
    if (why.size() > target.size() + 128) std::abort();
    return 0;
  }
  if (target.size() > kMaxApiTargetBytes) std::abort();
  if (r.params.size() > kMaxApiParams) std::abort();
  for (const auto& [k, v] : r.params) {
    if (k.empty() || k.size() > target.size() || v.size() > target.size()) std::abort();
  }
  return 0;
}
