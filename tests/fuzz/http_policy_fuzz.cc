// fuzz-flags: -max_len=4096
// libFuzzer target for the HTTP listener's Host/Origin/CORS policy
// (ipc/http_policy.h): the input's lines are the request's method, target,
// Host, Origin, Sec-Fetch-Site, Access-Control-Request-Method and
// -Headers ("-" for an absent field), then one allowed origin per line.
// Properties: no crash or sanitizer report; a refusal is 400 or 403 with a
// one-line reason; a preflight is 204; a request whose Host is not a loopback
// name with the port is never served while the Host check is on; a
// configured origin either normalizes to a value that normalizes to itself
// or is refused with a message.
#include <cstdlib>
#include <string>
#include <vector>

#include "ipc/http_policy.h"

using namespace spanvault::ipc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= in.size();) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) nl = in.size();
    lines.push_back(in.substr(pos, nl - pos));
    pos = nl + 1;
  }
  while (lines.size() < 7) lines.push_back("-");
  auto field = [&](size_t i) -> std::optional<std::string_view> {
    if (lines[i] == "-") return std::nullopt;
    return lines[i];
  };
  HttpPolicy policy;
  policy.port = 4318;
  policy.check_host = !lines[0].empty() && (lines[0][0] & 1) == 0;
  for (size_t i = 7; i < lines.size(); ++i) {
    auto o = NormalizeOrigin(lines[i]);
    if (!o) {
      if (o.error().message.empty()) abort();
      continue;
    }
    auto again = NormalizeOrigin(*o);
    if (!again || *again != *o) abort();  // normalizing is idempotent
    policy.allowed_origins.push_back(*o);
  }
  HttpRequestMeta m;
  m.method = lines[0];
  m.target = lines[1];
  m.version = size % 2 ? 10 : 11;
  m.host = field(2);
  m.origin = field(3);
  m.sec_fetch_site = field(4);
  m.request_method = field(5);
  m.request_headers = lines[6] == "-" ? std::string_view() : lines[6];
  HttpVerdict v = DecideRequest(m, policy);
  switch (v.kind) {
    case HttpVerdict::Kind::kRefuse:
      if ((v.status != 400 && v.status != 403) || v.reason.empty() ||
          v.reason.find('\n') != std::string::npos) {
        abort();
      }
      break;
    case HttpVerdict::Kind::kPreflight:
      if (v.status != 204) abort();
      break;
    case HttpVerdict::Kind::kServe:
      if (policy.check_host && m.host && !IsLoopbackHost(*m.host, policy.port)) abort();
      break;
  }
  for (const auto& [k, val] : v.headers) {
    if (k.find_first_of("\r\n") != std::string::npos || val.find_first_of("\r\n") != std::string::npos) abort();
  }
  return 0;
}
