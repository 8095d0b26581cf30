// The unit that flows from ipc/ (decoding) to buffer/ (durable storage): the
// encoded canonical spans of one or more payloads, plus the payloads that were
// refused, in one contiguous buffer so a batch of N spans costs O(1)
// allocations.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spanvault::span {

// Where a payload came from (docs/span.md, `source`).
enum class Transport : uint8_t { kUnixStream = 0, kUnixDatagram = 1, kUdp = 2, kHttp = 3 };
inline constexpr int kTransportCount = 4;
// "unix_stream", "unix_dgram", "udp", "http".
std::string_view TransportName(Transport t);

struct Source {
  Transport transport = Transport::kUnixStream;
  // From SO_PEERCRED / SCM_CREDENTIALS; -1 when the kernel did not say.
  int32_t pid = -1;
  int64_t uid = -1;
  int64_t gid = -1;
};

// Why a payload or span was refused; one counter per kind and transport.
enum class RejectKind : uint8_t {
  kTooLarge = 0,   // over the transport's size limit
  kSyntax = 1,     // not JSON
  kEncoding = 2,   // invalid UTF-8
  kDepth = 3,      // nesting over the limit
  kSchema = 4,     // JSON, but not a valid span
  kFull = 5,       // the buffer is full and on_full = "reject"
  kForbidden = 6,  // an admin control line from a peer without admin rights
  kBusy = 7,       // the in-flight byte budget is spent (ingest.max_inflight_bytes)
};
inline constexpr int kRejectKindCount = 8;
// "too_large", "syntax", "encoding", "depth", "schema", "full", "forbidden", "busy".
std::string_view RejectKindName(RejectKind k);

// One refused payload or array element, kept in the quarantine.
struct Rejection {
  RejectKind kind = RejectKind::kSchema;
  int64_t index = -1;   // element of an array payload, -1 for the whole payload
  std::string reason;   // precise, e.g. "usage.cache_read_tokens (120) exceeds usage.input_tokens (100)"
  std::string excerpt;  // the first 4 KiB of the offending bytes
};

enum class SpanType : uint8_t {
  kSpan,
  kGeneration,
  kEmbedding,
  kRetrieval,
  kTool,
  kAgent,
  kChain,
  kGuardrail,
  kEvaluator,
  kEvent
};
std::string_view SpanTypeName(SpanType t);
// Case-insensitive; nullopt for an unknown name.
std::optional<SpanType> ParseSpanType(std::string_view s);

// Token usage in the canonical convention: input includes cache reads and
// writes, output includes reasoning.
struct Usage {
  std::optional<uint64_t> input_tokens;
  std::optional<uint64_t> output_tokens;
  std::optional<uint64_t> cache_read_tokens;
  std::optional<uint64_t> cache_write_tokens;
  std::optional<uint64_t> reasoning_tokens;
  std::optional<uint64_t> total_tokens;
};

// What the pricing stage (cost/price_stage.h) needs of one span it may price,
// noted by the decoder for each span that has no cost of the client's own and
// either names a model or is a model call (generation, embedding).
struct PriceInput {
  uint32_t span = 0;     // index into Batch::spans
  uint32_t cost_at = 0;  // offset in Batch::data where that span's `,"cost":{…}` belongs
  SpanType type = SpanType::kSpan;
  bool has_usage = false;
  // The model and provider names, in Batch::price_names.
  uint32_t model_offset = 0, model_length = 0;
  uint32_t provider_offset = 0, provider_length = 0;
  int64_t start_ns = 0;
  Usage usage;
};

// Encoded spans: spans[i] is data.substr(offset, length), each one canonical
// JSON object (docs/span.md) including received_at and source.
struct EncodedSpan {
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct Batch {
  std::string data;
  std::vector<EncodedSpan> spans;
  struct Quarantined {
    Rejection rejection;
    Source source;
    int64_t received_ns = 0;
  };
  std::vector<Quarantined> quarantine;
  // Spans the pricing stage may price, in span order, and the names they
  // point into. Emptied by the stage; nothing after it reads them.
  std::vector<PriceInput> to_price;
  std::string price_names;
  int64_t received_ns = 0;  // newest receive time in the batch

  std::string_view SpanAt(size_t i) const { return {data.data() + spans[i].offset, spans[i].length}; }
  std::string_view Model(const PriceInput& p) const { return {price_names.data() + p.model_offset, p.model_length}; }
  std::string_view Provider(const PriceInput& p) const {
    return {price_names.data() + p.provider_offset, p.provider_length};
  }
  bool empty() const { return spans.empty() && quarantine.empty(); }
  void clear() {
    data.clear();
    spans.clear();
    quarantine.clear();
    to_price.clear();
    price_names.clear();
    received_ns = 0;
  }
};

// What became of a Batch handed to the store: buffer::SpanQueue::Append
// reports it, and the listeners (ipc::SubmitFn) receive the same struct.
struct StoreResult {
  bool ok = true;  // false: the store failed (error says why); nothing of the batch is durable
  std::string error;
  uint32_t stored = 0;        // spans now durable
  uint32_t refused_full = 0;  // spans refused because the buffer is full (on_full = reject)
  uint64_t first_seq = 0;     // seq of the first stored span (0 when none was stored)
};

}  // namespace spanvault::span
