// ipc/ — listeners and wire decoding. This header is the seam between the
// listeners and whatever stores what they decode: the daemon hands every
// listener a Submit function (backed by buffer::SpanQueue) and a set of
// counters. Nothing in ipc/ knows about RocksDB.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ipc/inflight_budget.h"
#include "span/batch.h"
#include "span/decoder.h"

namespace spanvault::ipc {

// The store's answer (span/batch.h): the same struct SpanQueue::Append gives.
using SubmitResult = span::StoreResult;
using SubmitDone = std::function<void(const SubmitResult&)>;
// Must be thread-safe. `done` may run on any thread, exactly once, and in
// submission order. fsync=true asks for the batch (and everything before it)
// to be fsynced before `done`.
using SubmitFn = std::function<void(span::Batch&& batch, bool fsync, SubmitDone done)>;

// Why the HTTP listener refused a request from its header alone, before its
// body was read (ipc/http_policy.h).
enum class HttpRefusal : uint8_t {
  kHost,       // Host is not a loopback name with the listener's port (DNS rebinding)
  kOrigin,     // Origin is neither the listener's own nor allowed
  kCrossSite,  // Sec-Fetch-Site: cross-site without an allowed Origin
  kPreflight,  // a CORS preflight from an origin that is not allowed
};
inline constexpr int kHttpRefusalCount = 4;
// "host", "origin", "cross_site", "preflight".
std::string_view HttpRefusalName(HttpRefusal reason);

// Counters of one transport; updated by the listeners, read by status/metrics.
struct TransportCounters {
  std::atomic<uint64_t> payloads{0};        // lines or datagrams received (blank lines not counted)
  std::atomic<uint64_t> bytes{0};           // bytes received
  std::atomic<uint64_t> spans_accepted{0};  // spans made durable
  std::atomic<uint64_t> payloads_rejected{0};
  std::array<std::atomic<uint64_t>, span::kRejectKindCount> rejected_by_kind{};
  std::atomic<uint64_t> kernel_drops{0};  // SO_RXQ_OVFL (UDP)
  std::atomic<uint64_t> connections{0};   // open connections (stream)
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_refused{0};  // over a connection cap (stream)
  // HTTP: requests refused by the listener's Host/Origin policy, per HttpRefusal.
  std::array<std::atomic<uint64_t>, kHttpRefusalCount> refused_by_policy{};
};

struct Counters {
  std::array<TransportCounters, span::kTransportCount> transport;
  // Bytes held by all listeners on their way to the store.
  InflightBudget budget;
  TransportCounters& operator[](span::Transport t) { return transport[static_cast<size_t>(t)]; }
};

// The Decoder of the calling thread (simdjson parsers are per thread). Its
// payload limit is the largest of all transports; each listener checks its own
// transport's limit before decoding.
span::Decoder& ThreadDecoder(const span::Limits& limits);

// Records one decoded payload's rejections in the counters.
void CountRejections(const span::Batch& batch, size_t first_quarantine, TransportCounters& c);

}  // namespace spanvault::ipc
