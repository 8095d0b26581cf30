// query/ — what the local store shows: trace lists, one trace as a tree with
// rollups, sessions, stats, export rows and the live tail (docs/api.md is the
// contract for every path, parameter and answer).
//
// Service is transport-free: the HTTP listener (/api/...) and the stream
// socket's control lines ($query, $export, $tail, $replay) both call it with
// a Request (a path and its decoded query parameters) and send its answer.
// Handle/Export/ForEachSpan read RocksDB on the calling thread: call them
// from a thread that may block on the disk (the daemon's query threads),
// never an Asio I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "buffer/span_queue.h"
#include "common/error.h"

namespace spanvault::query {

struct Request {
  std::string path;                                         // "/api/traces", "/api/traces/<id>", ...
  std::vector<std::pair<std::string, std::string>> params;  // decoded query parameters, in order
};

struct Response {
  int status = 200;  // 200, 400 (bad parameter: body {"error": reason}), 404, 503
  std::string content_type = "application/json";
  std::string body;
};

class Service {
 public:
  // `queue` must outlive the service; its trace index (local retention) may
  // be off, and then every path answers 404 {"error": "local retention is off ..."}.
  explicit Service(buffer::SpanQueue& queue);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // GET /api/traces, /api/traces/{id}, /api/sessions/{id}, /api/stats.
  Response Handle(const Request& req) const;

  // GET /api/export: one JSON line per row, through `emit` (false stops).
  // Returns the answer to send when the request is refused (status != 200)
  // before any row; otherwise status 200 with an empty body.
  Response Export(const Request& req, const std::function<bool(std::string_view line)>& emit) const;

  // The stored spans that match the filters of `req` (same parameters as
  // /api/export), oldest first, in batches (for replay). False from `each`
  // stops.
  Status ForEachSpan(const Request& req, const std::function<bool(const buffer::RecordBatch&)>& each) const;

  // Live tail. `fn` runs on the index thread for every event: kind "span"
  // (a new span's one-line summary) or "trace" (a trace summary that
  // changed); `json` is one JSON object. Must not block.
  using TailFn = std::function<void(std::string_view kind, std::string_view json)>;
  uint64_t Subscribe(TailFn fn);
  void Unsubscribe(uint64_t id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spanvault::query
