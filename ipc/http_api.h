// ipc/ — the local query API on the HTTP listener (docs/api.md), without
// I/O: which requests are API or page requests, the decoding of their query
// string, the hooks the daemon fills in, and the framing of streamed answers.
// ipc/ knows nothing of the query engine (query/) or the store: the daemon
// runs every query on its own threads and hands answers back through the
// hooks; the session (http_listener.cc, http_stream.cc) writes them.
//
//   GET /api/export   chunked application/x-ndjson, rows as the engine
//                     produces them, through a LineChannel (back-pressure)
//   GET /api/tail     text/event-stream (SSE): "event: KIND\ndata: JSON\n\n"
//                     per event, ": keep-alive" every 15 s; a client that
//                     does not keep up is dropped (bounded queue)
//   GET /api/...      one answer from ApiHooks::query
//   GET /, /assets/*  the page's static files from ApiHooks::asset
//
// A query string is refused (400 {"error": reason}) when it is longer than
// kMaxApiTargetBytes, has more than kMaxApiParams parameters, or a bad
// percent-escape. API requests go through the same Host/Origin/Sec-Fetch-Site
// checks as every request (http_policy.h) and never count as ingest.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/line_channel.h"

namespace spanvault::ipc {

// Longest request target of an API request, and most parameters.
inline constexpr size_t kMaxApiTargetBytes = 8192;
inline constexpr size_t kMaxApiParams = 64;
// What one streamed answer (export, tail) may have waiting for the client.
inline constexpr size_t kApiStreamBufferBytes = 1u << 20;
// Between two SSE keep-alive comments when no event went out.
inline constexpr std::chrono::seconds kSseKeepAlive{15};

// A GET /api/... request: its path and decoded query parameters, in order.
struct ApiRequest {
  std::string path;  // "/api/traces", "/api/traces/4bf9..." (percent-decoded)
  std::vector<std::pair<std::string, std::string>> params;
};

struct ApiAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// One static file of the page (web/assets.h provides them; the listener only
// serves them). The views must stay valid for the process's life.
struct Asset {
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // a quoted entity tag, or "" for none
};

struct ApiHooks {
  // Default: none (GET /api/... answers 404). Called on the connection's
  // strand; must not block: run the query on another thread and call `done`
  // once, from any thread.
  std::function<void(ApiRequest, std::function<void(ApiAnswer)>)> query;
  // Default: none (404). GET /api/export: produce the rows into `out` on
  // another thread (Push each line with its '\n', then Finish; a refusal is
  // Finish(400, reason) before any row). Called on the strand; must not block.
  std::function<void(ApiRequest, std::shared_ptr<LineChannel>)> export_rows;
  // Default: none (404). GET /api/tail: a refusal (a bad parameter), or
  // nullopt after subscribing `out` to the live tail, TryPush'ing SseEvent()
  // texts; end the subscription in `out`'s on_close. Called on the strand;
  // must be quick (no disk).
  std::function<std::optional<ApiAnswer>(const ApiRequest&, std::shared_ptr<LineChannel>)> tail;
  // Default: none (404). GET / and /assets/...: the file at `path` ("/" for
  // the page), or nullopt.
  std::function<std::optional<Asset>(std::string_view path)> asset;
};

enum class ApiRoute : uint8_t { kNone, kQuery, kExport, kTail, kAsset };
// Which API or page route a target's path is (the query string ignored).
// The OTLP route /api/public/otel/v1/traces is not an API route.
ApiRoute MatchApiRoute(std::string_view target);

// Decodes a target ("/api/traces?service=rag%20api&limit=20") into `out`.
// Returns "" or why it is refused (→ 400). '+' in a query means a space.
std::string ParseApiTarget(std::string_view target, ApiRequest* out);

// {"error": "<reason>"} with `status`.
ApiAnswer ApiError(unsigned status, std::string_view reason);

// One SSE event: "event: KIND\ndata: JSON\n\n" (`json` is one line).
std::string SseEvent(std::string_view kind, std::string_view json);
// The SSE comment sent when nothing else went out for kSseKeepAlive.
inline constexpr std::string_view kSseKeepAliveText = ": keep-alive\n\n";

}  // namespace spanvault::ipc
