#include "ipc/http_api.h"

#include <nlohmann/json.hpp>

namespace spanvault::ipc {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in` (and '+' as a space when `plus_is_space`); false on a
// bad escape or a decoded NUL.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return false;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out->push_back(c);
  }
  return true;
}

}  // namespace

ApiRoute MatchApiRoute(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/" || path == "/index.html" || path.starts_with("/assets/")) return ApiRoute::kAsset;
  if (!path.starts_with("/api/") || path == "/api/public/otel/v1/traces") return ApiRoute::kNone;
  if (path == "/api/export") return ApiRoute::kExport;
  if (path == "/api/tail") return ApiRoute::kTail;
  return ApiRoute::kQuery;
}

std::string ParseApiTarget(std::string_view target, ApiRequest* out) {
  if (target.size() > kMaxApiTargetBytes) {
    return "the request target is longer than " + std::to_string(kMaxApiTargetBytes) + " bytes";
  }
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (!PercentDecode(path, false, &out->path)) return "bad percent-escape in the path";
  out->params.clear();
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    if (out->params.size() == kMaxApiParams) {
      return "more than " + std::to_string(kMaxApiParams) + " query parameters";
    }
    size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), true, &key)) return "bad percent-escape in a query parameter name";
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value)) {
      return "bad percent-escape in the value of \"" + key + "\"";
    }
    if (key.empty()) return "a query parameter without a name";
    out->params.emplace_back(std::move(key), std::move(value));
  }
  return {};
}

ApiAnswer ApiError(unsigned status, std::string_view reason) {
  ApiAnswer a;
  a.status = status;
  a.body =
      nlohmann::json({{"error", std::string(reason)}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return a;
}

std::string SseEvent(std::string_view kind, std::string_view json) {
  std::string s;
  s.reserve(kind.size() + json.size() + 16);
  s.append("event: ").append(kind).append("\ndata: ");
  // One data line: a newline inside would end the field (JSON text from
  // the engine has none; be safe anyway).
  for (char c : json) s.push_back(c == '\n' || c == '\r' ? ' ' : c);
  s.append("\n\n");
  return s;
}

}  // namespace spanvault::ipc
