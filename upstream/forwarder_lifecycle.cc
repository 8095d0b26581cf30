// The forwarder's lifecycle (contract: forwarder.h; state and threads:
// forwarder_impl.h): the acks that move the cursor over finished batches
// (AckAsync, at most one in flight, at most every kAckInterval), logging,
// Create, Start, Notify, Stop (which waits until no request and no buffer
// call is in flight) and the stats.
#include <boost/asio/post.hpp>

#include "common/log.h"
#include "common/util.h"
#include "upstream/forwarder_impl.h"

namespace spanvault::upstream {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kErrorLogInterval = std::chrono::seconds(30);
// How often the cursor is persisted while batches complete. A crash loses at
// most this much acknowledgement: those batches are sent again.
constexpr auto kAckInterval = std::chrono::milliseconds(50);

}  // namespace

void Forwarder::Impl::AdvanceAcks() {
  while (!batches.empty() && batches.begin()->second.done) {
    ackable = batches.begin()->second.end;
    batches.erase(batches.begin());
  }
  if (ackable <= acked) return;
  if (Clock::now() - last_ack >= kAckInterval || stopping) {
    FlushAck();
  } else if (!ack_armed) {
    ack_armed = true;
    ack_timer.expires_at(last_ack + kAckInterval);
    ack_timer.async_wait([self = shared_from_this()](boost::system::error_code) {
      self->ack_armed = false;
      self->FlushAck();
    });
  }
}

void Forwarder::Impl::FlushAck() {
  if (ackable <= acked || ack_in_flight) return;
  last_ack = Clock::now();
  ack_in_flight = true;
  ++busy;
  queue.AckAsync(config.name, ackable, [self = shared_from_this(), until = ackable](Status st) {
    self->OnStrand([until, st = std::move(st)](Impl& me) { me.OnAcked(until, st); });
  });
}

void Forwarder::Impl::OnAcked(uint64_t until, const Status& st) {
  --busy;
  ack_in_flight = false;
  if (!st) {
    // The batches are delivered; only the cursor did not move. It moves with
    // the next ack (or the spans are sent again after a restart).
    NoteError("persisting the cursor: " + st.error().message);
  } else {
    acked = std::max(acked, until);
    std::lock_guard lk(stats_mu);
    stats.acked_seq = acked;
    pending_times.OnAcked(acked);
  }
  if (stopping) {
    MaybeDrained();
  } else if (st && ackable > acked) {
    AdvanceAcks();  // finished while this ack was being written
  }
}

void Forwarder::Impl::LogFailure(const std::string& what, milliseconds delay, int attempt, bool from_retry_after) {
  auto now = Clock::now();
  if (now - last_error_log < kErrorLogInterval) {
    ++unlogged_errors;
    return;
  }
  LOG_WARN("upstream delivery failed; retrying", {{"upstream", config.name},
                                                  {"error", what},
                                                  {"attempt", attempt},
                                                  {"retry_in_ms", delay.count()},
                                                  {"retry_after", from_retry_after},
                                                  {"failures_not_logged", unlogged_errors}});
  last_error_log = now;
  unlogged_errors = 0;
}

void Forwarder::Impl::NoteError(const std::string& what) {
  {
    std::lock_guard lk(stats_mu);
    stats.last_error = what;
    stats.last_error_ns = NowNanos();
  }
  LOG_ERROR("forwarder error", {{"upstream", config.name}, {"error", what}});
}

void Forwarder::Impl::MaybeDrained() {
  if (!stopping || busy > 0) return;
  if (!final_ack_sent && ackable > acked) {
    final_ack_sent = true;
    FlushAck();
    return;  // OnAcked comes back here
  }
  std::lock_guard lk(stop_mu);
  drained = true;
  stop_cv.notify_all();
}

// ---------------------------------------------------------------- Forwarder

Forwarder::Forwarder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Forwarder::~Forwarder() { Stop(milliseconds(0)); }

const std::string& Forwarder::name() const { return impl_->config.name; }

Result<std::unique_ptr<Forwarder>> Forwarder::Create(asio::io_context& ioc, buffer::SpanQueue& queue,
                                                     const UpstreamConfig& config, ForwarderOptions options) {
  auto problems = config.Validate();
  if (!problems.empty()) return Fail(Error::Invalid(problems.front()));
  auto impl = std::make_shared<Impl>(ioc, queue, config, options);
  auto encoder = MakeEncoder(config);
  if (!encoder) return Fail(encoder.error());
  impl->encoder = std::move(*encoder);
  if (!config.processors.empty()) {
    auto chain = process::Chain::Create(config.processor_defs, config.processors, options.keep_set);
    if (!chain) return Fail(Error::Invalid("upstream " + config.name + ": " + chain.error().message));
    impl->chain = std::move(*chain);
  }
  auto headers = ResolveHeaders(config.headers);
  if (!headers) return Fail(Error::Invalid("upstream " + config.name + ": " + headers.error().message));
  impl->headers = std::move(*headers);
  for (auto& h : impl->encoder->extra_headers()) impl->headers.push_back(std::move(h));
  auto url = EffectiveEndpoint(config);
  if (!url) return Fail(Error::Invalid("upstream " + config.name + ": " + url.error().message));
  auto endpoint = ParseEndpoint(*url);
  if (!endpoint) return Fail(Error::Invalid("upstream " + config.name + ": " + endpoint.error().message));
  HttpClientOptions ho;
  ho.endpoint = *endpoint;
  ho.tls_ca_file = config.tls_ca_file;
  ho.tls_insecure_skip_verify = config.tls_insecure_skip_verify;
  ho.timeout = config.timeout;
  ho.max_connections = config.concurrency;
  ho.max_response_bytes = config.max_response_bytes;
  auto client = HttpClient::Create(ioc, ho);
  if (!client) return Fail(Error::Invalid("upstream " + config.name + ": " + client.error().message));
  impl->client = std::move(*client);
  impl->store_id = queue.store_id();
  if (config.tls_insecure_skip_verify && endpoint->tls) {
    LOG_WARN("TLS certificate verification is OFF for this upstream: anyone on the path can read and change spans",
             {{"upstream", config.name}, {"endpoint", RedactEndpoint(config.endpoint)}});
  }
  auto pos = queue.ConsumerPosition(config.name);
  if (!pos) return Fail(pos.error());
  impl->acked = impl->ackable = impl->read_pos = *pos;
  impl->stats.name = config.name;
  impl->stats.endpoint = RedactEndpoint(*url);
  impl->stats.format = config.format;
  impl->stats.acked_seq = *pos;
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

void WarnIfCleartextCredentials(const UpstreamConfig& config) {
  std::vector<std::string> credentials = CleartextCredentials(config);
  if (credentials.empty()) return;
  LOG_WARN(
      "credentials go to this upstream in clear text: its endpoint is plain http:// to a host that is not loopback; "
      "anyone on the path can read them (use https://)",
      {{"upstream", config.name}, {"endpoint", RedactEndpoint(config.endpoint)}, {"credentials", credentials}});
}

void Forwarder::Start() {
  WarnIfCleartextCredentials(impl_->config);
  impl_->OnStrand([](Impl& me) {
    LOG_INFO("forwarding", {{"upstream", me.config.name}, {"endpoint", me.stats.endpoint}, {"from_seq", me.read_pos}});
    me.Pump();
    me.SchedulePoll();
  });
}

void Forwarder::Notify() {
  if (impl_->notified.exchange(true)) return;
  impl_->OnStrand([](Impl& me) {
    me.notified = false;
    me.Pump();
  });
}

void Forwarder::Stop(milliseconds grace) {
  auto& me = *impl_;
  {
    std::lock_guard lk(me.stop_mu);
    if (me.drained) return;
  }
  me.OnStrand([](Impl& m) {
    m.stopping = true;
    m.linger_timer.cancel();
    m.poll_timer.cancel();
    m.ack_timer.cancel();
    m.hold_timer.cancel();
    for (auto& u : m.waiting) u->retry_timer->cancel();
    m.MaybeDrained();
  });
  std::unique_lock lk(me.stop_mu);
  if (!me.stop_cv.wait_for(lk, grace, [&] { return me.drained; })) {
    lk.unlock();
    LOG_WARN("shutdown grace over: cancelling requests in flight (their spans are sent again after restart)",
             {{"upstream", me.config.name}});
    me.client->Shutdown();
    lk.lock();
    // Shutdown fails every request at once; their handlers need the io threads.
    if (!me.stop_cv.wait_for(lk, std::chrono::seconds(5), [&] { return me.drained; })) {
      LOG_ERROR("forwarder did not drain after cancelling", {{"upstream", me.config.name}});
      me.drained = true;
    }
  }
  lk.unlock();
  me.client->Shutdown();
}

uint64_t Forwarder::DeliveredSpans() const {
  std::lock_guard lk(impl_->stats_mu);
  return impl_->stats.delivered_spans;
}

ForwarderStats Forwarder::GetStats() const {
  // In memory only (the queue's getters and what the forwarder keeps): safe
  // on an Asio I/O thread.
  const buffer::Stats q = impl_->queue.GetStats();
  ForwarderStats s;
  uint64_t from = 0;
  {
    std::lock_guard lk(impl_->stats_mu);
    s = impl_->stats;
    from = std::max(s.acked_seq, q.head_seq);
    s.pending_spans = q.next_seq > from ? q.next_seq - from : 0;
    if (s.pending_spans > 0) s.oldest_pending_ns = impl_->pending_times.Oldest(from);
  }
  // Committed a moment ago and not seen by the forwarder yet: received by now.
  if (s.pending_spans > 0 && s.oldest_pending_ns == 0) s.oldest_pending_ns = NowNanos();
  s.in_flight_batches = impl_->in_flight.load();
  if (impl_->chain) {
    s.processors = impl_->chain->names();
    s.processing = impl_->chain->Stats();
  }
  return s;
}

}  // namespace spanvault::upstream
