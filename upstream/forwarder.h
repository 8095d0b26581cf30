// upstream/ — the forwarder: delivers the buffer's spans to one upstream.
//
// One Forwarder per configured upstream, each with its own consumer cursor in
// the span queue. It reads batches from its read position, encodes them
// (Encoder), sends up to `concurrency` at once (HttpClient) and acts on each
// outcome as the retry policy decides (retry_policy.h). Completions may come
// in any order; the cursor moves only over the contiguous prefix of finished
// batches, so after a crash or restart every batch that was not acknowledged
// is sent again (at least once; the Idempotency-Key and the span ids let the
// backend deduplicate).
//
//   acked (cursor, persisted)       read_pos                    queue next_seq
//      |  in flight: [b1 done][b2 sending][b3 retrying] |  not read yet  |
//      v                                                v                v
//   ---[....................................................................)
//
// A batch is [first_seq, end_seq): it also covers seqs the buffer dropped
// (max_age, max_disk_bytes) between reads, so acks never stall on a gap.
// A batch refused with a permanent 4xx is split in halves until the span to
// blame is alone; that span goes to the dead-letter store (durably, before the
// ack that covers it) and the rest is delivered.
//
// Processors: when the upstream lists `processors`, each batch read goes
// through them (process/chain.h) before it is encoded, off the strand like
// encoding; the spans they drop are covered by the batch's ack like the rest.
// A dead letter keeps the span as stored (its replay queues the original
// again, processed anew by each upstream); Replay processes. With a sample
// processor that has keep conditions, spans are read only once they are
// decision_wait old (by receive time): the forwarder holds its read position
// at the first younger span until then.
//
// Threading: all state lives on one strand of the io_context given to
// Create; encoding and gzip run on the io_context outside the strand, so
// several threads can compress batches of one upstream at once. Every buffer
// call (reading batches, acks, dead letters) runs on the span queue's worker
// thread and posts its result back onto the strand: no RocksDB I/O on the
// io_context's threads. Notify(), Stop(), GetStats() and DeliveredSpans()
// may be called from any thread (Stop, which blocks, not from the
// io_context's threads). None of them touches the disk: GetStats may run on
// an Asio I/O thread ($status, /metrics); its oldest_pending_ns comes from
// the receive times of the spans the forwarder read, kept until they are
// acknowledged.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "buffer/span_queue.h"
#include "common/error.h"
#include "config/upstream_config.h"
#include "process/chain.h"
#include "process/keep_set.h"

namespace spanvault::upstream {

struct ForwarderOptions {
  // Default: 7 days. A batch whose newest span is older than this is dropped
  // instead of retried again (the buffer's max_age; counted and logged).
  std::chrono::milliseconds max_age{7LL * 24 * 3600 * 1000};
  // Default: 1s. How often the queue is polled besides Notify().
  std::chrono::milliseconds poll_interval{1000};
  // Default: none (a set of the forwarder's own). Where sample processors
  // find the traces kept by their keep conditions (process/keep_set.h),
  // shared with the ingest stage that marks them.
  std::shared_ptr<process::KeepSet> keep_set;
};

struct ForwarderStats {
  std::string name;
  std::string endpoint;  // where requests go (EffectiveEndpoint), redacted (RedactEndpoint)
  std::string format;
  bool healthy = true;        // false after a failed attempt, until a success
  bool paused = false;        // 401/403/redirect: waiting out retry.auth_pause
  std::string last_error;     // e.g. "HTTP 503", "connect 127.0.0.1:9: Connection refused"
  int64_t last_error_ns = 0;  // 0: none since start
  int64_t last_success_ns = 0;
  uint64_t acked_seq = 0;      // the persisted cursor
  uint64_t read_seq = 0;       // next seq to read
  uint64_t pending_spans = 0;  // buffered spans this upstream still needs
  // Receive time of the oldest of them (0: none): of the first buffered span
  // at or above the cursor, from what the forwarder read; for spans it has
  // not read yet (at most `linger` after their commit, or while reads fail),
  // when it first saw them in the queue.
  int64_t oldest_pending_ns = 0;
  uint64_t in_flight_batches = 0;
  uint64_t delivered_spans = 0;  // since start
  uint64_t delivered_batches = 0;
  uint64_t sent_bytes = 0;       // request bodies as sent (after gzip)
  uint64_t failed_attempts = 0;  // attempts that did not deliver (each retry counts)
  uint64_t retries = 0;
  uint64_t splits = 0;
  uint64_t dead_lettered = 0;
  uint64_t rejected_by_upstream = 0;  // spans an upstream refused inside an accepted batch (OTLP partial_success)
  uint64_t expired_spans = 0;         // dropped after max_age while retrying
  // The upstream's processors (empty: none) and what they did since this
  // forwarder started (docs/processors.md).
  std::vector<std::string> processors;
  process::ChainStats processing;
};

// What a replay (Forwarder::Replay) did with its spans.
struct ReplayResult {
  uint64_t spans = 0;      // spans handed to Replay
  uint64_t delivered = 0;  // the upstream took them (2xx)
  uint64_t failed = 0;     // spans - delivered: refused for good, given up, or the forwarder stopped
  std::string last_error;  // the last failure ("HTTP 400", "connect ...: refused"), "" when none
};

// Attempts per replayed request: a replay is answered, not kept forever.
inline constexpr int kReplayAttempts = 4;

class Forwarder {
 public:
  // Registers nothing: the caller has added the consumer `config.name` to the
  // queue. Errors: bad endpoint, unreadable CA file or header file, unknown
  // format. The queue must outlive the forwarder.
  static Result<std::unique_ptr<Forwarder>> Create(boost::asio::io_context& ioc, buffer::SpanQueue& queue,
                                                   const UpstreamConfig& config, ForwarderOptions options = {});
  ~Forwarder();  // Stop(0)

  // Starts reading from the consumer's persisted position. Logs where it
  // forwards to, and WarnIfCleartextCredentials.
  void Start();

  // New spans are in the queue. Cheap; coalesces; any thread.
  void Notify();

  // Stops reading new batches, gives requests in flight up to `grace` to
  // finish (batches waiting for a retry are not sent again), then cancels
  // the rest and persists the cursor over what was acknowledged. Blocks;
  // idempotent; must not be called from the io_context's threads.
  void Stop(std::chrono::milliseconds grace);

  // Sends the spans of `batch` to this upstream once more (`$replay`,
  // docs/api.md): through the same encoder (format, dialect), gzip, client
  // and retry policy as forwarding, in requests of at most batch_max_spans /
  // batch_max_bytes, each with its own Idempotency-Key. Touches no cursor
  // and nothing in the store: no ack, no dead letter — a span refused for
  // good, a 401/403/redirect, or kReplayAttempts failed attempts count as
  // failed; permanent 4xx still split a request to isolate the refused span.
  // `done` runs once, when every span is delivered or failed (also when the
  // forwarder stops first: what was not delivered is failed), on the
  // forwarder's strand or the thread that drops the last request. Any thread;
  // does not block.
  void Replay(buffer::RecordBatch batch, std::function<void(const ReplayResult&)> done);

  ForwarderStats GetStats() const;
  // GetStats().delivered_spans alone, cheaper (the rate sampler).
  uint64_t DeliveredSpans() const;
  const std::string& name() const;

 private:
  struct Impl;
  explicit Forwarder(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Logs a warning when `config` would send credentials in clear text
// (CleartextCredentials: plain http:// to a non-loopback host). Forwarder::Start
// calls it; a reload calls it for the upstreams it keeps running unchanged, so
// the warning comes once at start and once per reload.
void WarnIfCleartextCredentials(const UpstreamConfig& config);

}  // namespace spanvault::upstream
