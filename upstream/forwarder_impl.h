// upstream/ internal — the Forwarder's state (contract and diagram:
// forwarder.h), shared by forwarder.cc (reading, encoding, sending, the
// outcome of each attempt) and forwarder_lifecycle.cc (acks, logging, Create,
// Start, Stop, stats).
//
// Units: a batch read from the queue starts as one unit (one request). A
// permanent 4xx splits a unit into two halves, each its own request, until
// the span to blame is alone and goes to the dead-letter store. A batch is
// finished when its last unit is; the cursor then moves over the longest
// prefix of finished batches with one ack (one RocksDB write).
//
// Threads: every member function runs on `strand` except the encoding
// (Launch: on the io_context, reading only the unit's own records) and the
// buffer calls, which run on the span queue's worker thread (ReadAsync,
// AckAsync, DeadLetterStore::AddAsync) and post their result back onto the
// strand (OnRead, OnAcked, OnDeadLettered): no RocksDB I/O runs on an Asio
// thread. Handlers and buffer callbacks hold a shared_ptr to the Impl, and
// `busy` counts them, so Stop() returns only once none is in flight and a
// Forwarder can be destroyed with requests in flight (Stop() cancels them
// first). stats_mu guards `stats` and `pending_times` (GetStats from any
// thread, without reading the store); stop_mu the drained flag.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "buffer/span_queue.h"
#include "process/chain.h"
#include "upstream/encoder.h"
#include "upstream/forwarder.h"
#include "upstream/http_client.h"
#include "upstream/pending_times.h"
#include "upstream/retry_policy.h"

namespace spanvault::upstream {
namespace forwarder_internal {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The spans of one Forwarder::Replay call in flight. Its units hold it; when
// the last one is gone (finished, given up, or dropped by Stop) the
// destructor reports the counts: exactly once, whatever the path.
struct ReplayJob {
  uint64_t id = 0;
  uint64_t spans = 0;
  uint64_t delivered = 0;  // on the strand
  std::string last_error;  // on the strand
  std::function<void(const ReplayResult&)> done;
  ~ReplayJob() {
    if (done) done(ReplayResult{spans, delivered, spans - std::min(spans, delivered), last_error});
  }
};

// A request's spans: [begin, end) of a batch read from the queue. Halves of
// a split share the batch's buffer. A replayed request (`replay` set) belongs
// to no batch of the cursor: it is never acked.
struct Unit {
  uint64_t batch_first = 0;
  std::shared_ptr<const buffer::RecordBatch> batch;
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
  uint64_t seq(size_t i) const { return batch->entries[begin + i].seq; }
  int attempt = 0;  // failed attempts so far
  std::shared_ptr<const HttpRequest> request;
  std::unique_ptr<asio::steady_timer> retry_timer;
  std::shared_ptr<ReplayJob> replay;
  // With processors: the batch as read from the store (`batch` is the
  // processed one, its entries a subset by seq). A dead letter keeps the
  // stored span, so that `dead-letter replay` queues the original again and
  // each upstream processes it anew.
  std::shared_ptr<const buffer::RecordBatch> original;
  std::string_view StoredJson(size_t i) const {
    if (!original) return batch->json(i);
    const uint64_t s = batch->entries[i].seq;
    auto it = std::lower_bound(original->entries.begin(), original->entries.end(), s,
                               [](const buffer::RecordBatch::Entry& e, uint64_t v) { return e.seq < v; });
    if (it == original->entries.end() || it->seq != s) return batch->json(i);
    return original->json(static_cast<size_t>(it - original->entries.begin()));
  }
};
using UnitPtr = std::shared_ptr<Unit>;

struct BatchState {
  uint64_t end = 0;
  size_t units_left = 1;
  bool done = false;
};

}  // namespace forwarder_internal

struct Forwarder::Impl : std::enable_shared_from_this<Impl> {
  using Clock = forwarder_internal::Clock;
  using Unit = forwarder_internal::Unit;
  using UnitPtr = forwarder_internal::UnitPtr;
  using BatchState = forwarder_internal::BatchState;
  using milliseconds = std::chrono::milliseconds;

  Impl(boost::asio::io_context& io, buffer::SpanQueue& q, UpstreamConfig c, ForwarderOptions o)
      : ioc(io),
        strand(boost::asio::make_strand(io)),
        queue(q),
        config(std::move(c)),
        options(o),
        ack_timer(strand),
        linger_timer(strand),
        poll_timer(strand),
        hold_timer(strand),
        rng(std::random_device{}()) {}

  boost::asio::io_context& ioc;
  boost::asio::strand<boost::asio::io_context::executor_type> strand;
  buffer::SpanQueue& queue;
  const UpstreamConfig config;
  const ForwarderOptions options;
  std::unique_ptr<Encoder> encoder;
  // The upstream's processors (config.processors), null when it has none.
  std::shared_ptr<const process::Chain> chain;
  std::shared_ptr<HttpClient> client;
  std::vector<std::pair<std::string, std::string>> headers;  // resolved; never logged
  std::string store_id;

  // strand state
  uint64_t acked = 0;    // the persisted cursor
  uint64_t ackable = 0;  // the end of the finished prefix (>= acked)
  Clock::time_point last_ack{};
  boost::asio::steady_timer ack_timer;
  bool ack_armed = false;
  uint64_t read_pos = 0;
  bool reading = false;                    // a ReadAsync in flight
  bool ack_in_flight = false;              // an AckAsync in flight
  bool final_ack_sent = false;             // the ack MaybeDrained makes when stopping
  std::map<uint64_t, BatchState> batches;  // by first seq
  size_t unfinished = 0;                   // batches not done
  std::vector<UnitPtr> waiting;            // units waiting for a retry timer
  size_t busy = 0;                         // units being encoded or on the wire, and buffer calls in flight
  boost::asio::steady_timer linger_timer;
  bool linger_armed = false;
  bool linger_expired = false;
  boost::asio::steady_timer poll_timer;
  // Spans younger than the chain's decision_wait are not read yet: reads
  // wait until held_until (hold_timer then pumps).
  boost::asio::steady_timer hold_timer;
  Clock::time_point held_until{};
  uint64_t held_from = 0;  // OnRead: the seq HoldYoung cut the batch at (0: not cut)
  bool stopping = false;
  std::mt19937_64 rng;
  Clock::time_point last_error_log{};
  uint64_t unlogged_errors = 0;
  std::atomic<bool> notified{false};
  std::atomic<uint64_t> in_flight{0};  // `unfinished`, for GetStats

  // Stop() waits for busy == 0 after stopping: no buffer callback comes after.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool drained = false;

  mutable std::mutex stats_mu;
  ForwarderStats stats;
  // The receive times of the spans read and not yet acknowledged, kept from
  // OnRead, Pump and OnAcked: GetStats' oldest_pending_ns (pending_times.h).
  forwarder_internal::PendingTimes pending_times;

  double Random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

  template <typename F>
  void OnStrand(F&& f) {
    boost::asio::post(strand, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(*self); });
  }

  // ------------------------------------------------------------ reading

  // Starts the next read when a slot is free and spans are waiting: one read
  // at a time, on the buffer's worker thread (ReadAsync); OnRead goes on.
  void Pump();

  // The read Pump started, back on the strand. `next` was the queue's
  // next_seq when it started.
  void OnRead(uint64_t next, Result<buffer::RecordBatch> records);

  void ArmLinger();

  void SchedulePoll();

  // ------------------------------------------------------------ processing

  // Runs the chain over `batch` off the strand (on the io_context, like
  // encoding), then `then` on the strand with the spans it kept, changed as
  // it said (forwarder_process.cc). Counted in `busy`.
  // `then` gets the processed batch and the one given (the original).
  using Prepared = std::function<void(Impl&, std::shared_ptr<const buffer::RecordBatch> kept,
                                      std::shared_ptr<const buffer::RecordBatch> original)>;
  void Prepare(std::shared_ptr<const buffer::RecordBatch> batch, Prepared then);

  // The cursor's batch [first, ...) after Prepare: one unit, or finished at
  // once when the chain kept none of its spans. `original`: null without
  // processors.
  void LaunchPrepared(uint64_t first, std::shared_ptr<const buffer::RecordBatch> batch,
                      std::shared_ptr<const buffer::RecordBatch> original);

  // With a decision_wait: cuts `records` before its first span younger than
  // the wait and, when that leaves nothing, holds reads until that span is
  // old enough. Returns false when nothing is left to send now.
  bool HoldYoung(buffer::RecordBatch& records);

  // ------------------------------------------------------------ sending

  std::string IdempotencyKey(const Unit& u) const;

  // Encodes off the strand, then sends.
  void Launch(const UnitPtr& unit);

  void Send(const UnitPtr& unit);

  void OnOutcome(const UnitPtr& unit, HttpOutcome outcome);

  void OnResult(const UnitPtr& unit, const AttemptResult& result, const std::string& what, const std::string& body);

  void OnDeadLettered(const UnitPtr& unit, int status, const Status& st);

  void FailSpans(const UnitPtr& unit, const std::vector<FailedSpan>& failed, int batch_status, const std::string& body);

  void Retry(const UnitPtr& unit, milliseconds delay);

  void FinishUnit(const UnitPtr& unit);

  // A unit split off `parent` (a split, a span an answer named as failed):
  // counted in its batch, or in its replay.
  UnitPtr ChildUnit(const UnitPtr& parent, size_t begin, size_t end);

  // A replayed request that did not deliver: given up (counted failed) or
  // retried, as the decision and its attempts say. True when handled.
  bool ReplayFailed(const UnitPtr& unit, const Decision& d, const std::string& what);

  // Forwarder::Replay on the strand: the batch in requests, launched.
  void StartReplay(std::shared_ptr<forwarder_internal::ReplayJob> job,
                   std::shared_ptr<const buffer::RecordBatch> batch);
  std::atomic<uint64_t> next_replay{1};

  // Moves `ackable` over the finished prefix; the cursor itself is written at
  // most every kAckInterval (one RocksDB write for many batches).
  void AdvanceAcks();

  // Persists the cursor at `ackable` on the buffer's worker thread (AckAsync);
  // one ack in flight at a time, OnAcked goes on.
  void FlushAck();

  void OnAcked(uint64_t until, const Status& st);

  // ------------------------------------------------------------ logging, stop

  void LogFailure(const std::string& what, milliseconds delay, int attempt, bool from_retry_after);

  void NoteError(const std::string& what);

  // Once stopping and nothing is in flight (requests, buffer calls): one last
  // ack over what was delivered, then Stop() may return.
  void MaybeDrained();
};

}  // namespace spanvault::upstream
