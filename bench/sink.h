// bench/ — a fast HTTP sink for the drain benchmark.
//
// An HTTP/1.1 server on 127.0.0.1 that accepts any number of keep-alive
// connections, reads each request body (up to `max_body_bytes`) and answers
// 200 `{}` at once. It counts requests and body bytes only, so that it costs
// the machine as little as possible; the benchmark takes span totals from the
// daemon's own counters. To notice garbage it verifies the first request and
// every `verify_every`-th one after it: gunzips the body when it is
// `Content-Encoding: gzip`, parses it in whichever upstream format it is
// (`json`, OTLP protobuf or JSON, langfuse-ingestion, braintrust-logs) and
// checks every span has a string id.
//
// Threading: one I/O thread of its own. Start/Stop from one thread; Stats()
// from any thread at any time.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

namespace spanvault::bench {

struct SinkOptions {
  // Default: 0 (the kernel picks a free port; Start() returns it).
  uint16_t port = 0;
  // Default: 50. Verify the first request and every Nth after it (0: only the first).
  uint64_t verify_every = 50;
  // Default: 64 MiB. Larger bodies are answered 413 and counted as errors.
  uint64_t max_body_bytes = 64u << 20;
  // Default: 120 s. A connection idle (or stuck mid-request) this long is closed.
  int idle_timeout_s = 120;
};

struct SinkStats {
  uint64_t connections = 0;     // accepted so far
  uint64_t requests = 0;        // answered 200
  uint64_t body_bytes = 0;      // as received (compressed when gzip'd)
  uint64_t gzip_requests = 0;   // with Content-Encoding: gzip
  uint64_t plain_requests = 0;  // without Content-Encoding
  uint64_t verified_requests = 0;
  uint64_t verified_spans = 0;           // spans in the verified requests
  uint64_t verified_raw_bytes = 0;       // their bodies after gunzip
  uint64_t verified_gzip_bytes = 0;      // their bodies as received, when gzip'd
  uint64_t verified_gzip_raw_bytes = 0;  // the same bodies after gunzip
  uint64_t max_batch_spans = 0;          // largest verified request
  uint64_t errors = 0;                   // bad requests, bodies that failed verification, oversized bodies
  std::string first_error;               // "" when none
  int64_t first_request_ns = 0;          // CLOCK_MONOTONIC of the first request answered (0: none yet)
};

class Sink {
 public:
  explicit Sink(SinkOptions options);
  ~Sink();  // Stop()
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Binds 127.0.0.1:port and starts serving on its own thread. Returns the
  // bound port, or why it could not bind. Call once.
  std::expected<uint16_t, std::string> Start();
  // Closes the listener and every connection and joins the thread. Idempotent.
  void Stop();
  SinkStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spanvault::bench
