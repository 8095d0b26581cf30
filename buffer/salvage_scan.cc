#include "buffer/salvage_scan.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "buffer/store_format.h"

namespace spanvault::buffer::internal {
namespace {

constexpr size_t kUserKey = 8;                 // a seq
constexpr size_t kInternalKey = kUserKey + 8;  // seq + RocksDB's trailer
constexpr uint8_t kTypeValue = 1;              // a put, in a trailer and as a WAL tag
constexpr uint8_t kTagCfValue = 5;             // a put into a named column family (WAL)
constexpr size_t kWalBlock = 32 << 10;
constexpr uint32_t kCrcMaskDelta = 0xa282ead8u;

bool Varint32(std::string_view b, size_t& p, uint32_t& out) {
  uint32_t v = 0;
  for (int shift = 0; shift <= 28 && p < b.size(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(b[p++]);
    v |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      out = v;
      return true;
    }
  }
  return false;
}

uint64_t BigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t LittleEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Framed as a span record: version byte, receive time and at least "{}".
// Whether its span reads is TakeValue's question.
bool LooksLikeSpanValue(std::string_view v) {
  return v.size() >= kSpanValueHeader + 2 && static_cast<uint8_t>(v[0]) == kSpanVersion;
}

// Reads `value` (at `offset` in the scanned bytes) as a span: emits it or
// counts it unreadable. True when it was a span.
bool TakeValue(std::string_view bytes, size_t offset, size_t length, uint64_t seq, ScanCounts& c,
               const SpanSink& sink) {
  int64_t received_ns = 0;
  std::string_view json;
  if (!ReadSpanRecord(bytes.substr(offset, length), &received_ns, &json)) {
    ++c.unreadable;
    ScannedSpan bad;
    bad.seq = seq;
    bad.offset = offset;
    bad.readable = false;
    sink(bad, {});
    return false;
  }
  ScannedSpan s;
  s.seq = seq;
  s.received_ns = received_ns;
  s.offset = offset + kSpanValueHeader;
  s.length = static_cast<uint32_t>(json.size());
  ++c.spans;
  sink(s, json);
  return true;
}

}  // namespace

bool ReadSpanRecord(std::string_view value, int64_t* received_ns, std::string_view* json) {
  if (!DecodeSpanValue(rocksdb::Slice(value.data(), value.size()), received_ns, json) || json->empty() ||
      json->front() != '{') {
    return false;
  }
  // Only a whole JSON object goes back into a live queue: its encoders
  // expect one, and a torn or garbled record would poison every batch it
  // joins (the json format copies spans verbatim into the request body).
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(json->data(), json->size()).get(root) == simdjson::SUCCESS && root.is_object();
}

ScanCounts ScanTableFile(std::string_view b, const SpanSink& sink) {
  ScanCounts c;
  // Spans are held back to the end of the file: one whose key prefix came
  // from a damaged entry gets its seq from the next whole key after it.
  struct Pending {
    ScannedSpan span;
    std::string_view json;
    uint32_t shared = 0;   // > 0: only the key bytes from `shared` on are known
    uint64_t suffix = 0;   // the known low bytes of the seq
  };
  std::vector<Pending> pending;
  auto keep = [&](const ScannedSpan& s, std::string_view json) { pending.push_back({s, json}); };
  char prev[kInternalKey] = {};
  bool prev_known = false;  // `prev` is the key of the entry just before
  size_t i = 0;
  while (i < b.size()) {
    size_t p = i;
    uint32_t shared = 0, non_shared = 0, vlen = 0;
    if (!Varint32(b, p, shared) || !Varint32(b, p, non_shared) || !Varint32(b, p, vlen) ||
        non_shared > b.size() - p || vlen > b.size() - p - non_shared) {
      prev_known = false;
      ++i;
      continue;
    }
    const size_t value_at = p + non_shared;
    if (shared + non_shared == kInternalKey && non_shared > 0 && LooksLikeSpanValue(b.substr(value_at, vlen))) {
      char key[kInternalKey];
      std::memcpy(key, prev, shared);
      std::memcpy(key + shared, b.data() + p, non_shared);
      const bool known = shared == 0 || prev_known;
      // The trailer's low byte is the entry's type: only puts hold spans.
      if ((known || shared <= kUserKey) && static_cast<uint8_t>(key[kUserKey]) != kTypeValue) {
        prev_known = false;
        ++i;
        continue;
      }
      const size_t before = pending.size();
      if (TakeValue(b, value_at, vlen, known ? BigEndian64(key) : 0, c, keep)) {
        if (!known && pending.size() > before && shared < kUserKey) {
          pending.back().shared = shared;
          for (uint32_t k = shared; k < kUserKey; ++k) {
            pending.back().suffix = (pending.back().suffix << 8) | static_cast<uint8_t>(key[k]);
          }
        }
        std::memcpy(prev, key, kInternalKey);
        prev_known = known;
        i = value_at + vlen;
        continue;
      }
    } else if (shared == 0 && non_shared == 4 + 8 && vlen == 8 && b.compare(p, 4, internal::kHeadKey) == 0 &&
               static_cast<uint8_t>(b[p + 4]) == kTypeValue) {
      c.head = std::max(c.head, BigEndian64(b.data() + value_at));
      prev_known = false;
      i = value_at + vlen;
      continue;
    }
    prev_known = false;
    ++i;
  }
  // Seqs are consecutive within a block: the high bytes of a partial key
  // are those of the next whole key (less one carry when the low bytes
  // are not below it).
  uint64_t next_known = 0;
  for (size_t k = pending.size(); k-- > 0;) {
    Pending& x = pending[k];
    if (x.span.readable && x.span.seq != 0) {
      next_known = x.span.seq;
    } else if (x.span.readable && x.shared > 0 && next_known != 0) {
      const uint64_t low = (kUserKey - x.shared) * 8;
      const uint64_t mask = low >= 64 ? ~0ull : (1ull << low) - 1;
      uint64_t seq = (next_known & ~mask) | x.suffix;
      if (seq >= next_known && seq > mask) seq -= mask + 1;
      if (seq < next_known && seq != 0) {
        x.span.seq = seq;
        next_known = seq;
      }
    }
  }
  for (const Pending& x : pending) sink(x.span, x.json);
  return c;
}

std::string WalPayloads(std::string_view f, ScanCounts& c) {
  std::string out;
  out.reserve(f.size());
  for (size_t block = 0; block < f.size(); block += kWalBlock) {
    const size_t end = std::min(f.size(), block + kWalBlock);
    size_t p = block;
    while (end - p >= 7) {
      const uint32_t masked = LittleEndian32(f.data() + p);
      const size_t len = static_cast<uint8_t>(f[p + 4]) | (static_cast<size_t>(static_cast<uint8_t>(f[p + 5])) << 8);
      const uint8_t type = static_cast<uint8_t>(f[p + 6]);
      if (type == 0 && len == 0) break;  // the zeroes after the last record, or a block's padding
      const size_t header = type >= 5 && type <= 8 ? 11 : 7;  // recyclable records carry a log number
      const uint32_t rot = masked - kCrcMaskDelta;
      const uint32_t expected = (rot >> 17) | (rot << 15);
      if (header + len > end - p || Crc32cExtend(0, f.data() + p + 6, header - 6 + len) != expected) {
        // A damaged header or payload: the rest of this block cannot be
        // walked (the next block starts with a header of its own), but the
        // spans in it that still read are taken; usually the block is one
        // fragment of a large batch, and only the damaged bytes are lost.
        ++c.damaged_records;
        c.damaged_bytes += end - p;
        if (end - p > 7) out.append(f.data() + p + 7, end - p - 7);
        break;
      }
      if (type >= 1 && type <= 8) out.append(f.data() + p + header, len);  // 9+: metadata records
      p += header + len;
    }
  }
  return out;
}

ScanCounts ScanWalStream(std::string_view s, const SpanSink& sink) {
  ScanCounts c;
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t tag = static_cast<uint8_t>(s[i]);
    if (tag != kTypeValue && tag != kTagCfValue) {
      ++i;
      continue;
    }
    size_t p = i + 1;
    uint32_t cf = 0, klen = 0, vlen = 0;
    if ((tag == kTagCfValue && !Varint32(s, p, cf)) || !Varint32(s, p, klen) || klen > s.size() - p) {
      ++i;
      continue;
    }
    const size_t key_at = p;
    p += klen;
    if (!Varint32(s, p, vlen) || vlen > s.size() - p) {
      ++i;
      continue;
    }
    if (klen == kUserKey && LooksLikeSpanValue(s.substr(p, vlen))) {
      if (TakeValue(s, p, vlen, BigEndian64(s.data() + key_at), c, sink)) {
        i = p + vlen;
        continue;
      }
    } else if (tag == kTagCfValue && klen == 4 && vlen == 8 && s.compare(key_at, 4, internal::kHeadKey) == 0) {
      c.head = std::max(c.head, BigEndian64(s.data() + p));
      i = p + vlen;
      continue;
    }
    ++i;
  }
  return c;
}

}  // namespace spanvault::buffer::internal
