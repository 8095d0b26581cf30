// fuzz-flags: -max_len=65536
// libFuzzer target for salvage's span reader (buffer/salvage.h,
// SalvageSpanRecord): how `spanvault buffer salvage` reads each value of a
// damaged store's spans database (store_format.h: 0x01 | received_ns i64 LE
// | span JSON) before re-queueing it; then the whole input as the bytes of a
// table file and of a WAL, as salvage's raw scanner reads them
// (salvage_scan.h).
//
// Input: records, each a 2-byte little-endian length and that many bytes
// (the last one takes what is left). Properties checked on every input:
//   - each record is either appended to the batch or refused, leaving the
//     batch unchanged;
//   - an appended span is the record's JSON, byte for byte, and is one
//     well-formed JSON object (salvaged spans go straight back into the
//     live queue, whose encoders expect JSON);
//   - batch.received_ns is the newest receive time of the records taken;
//   - a record written by EncodeSpanValue reads back as written.
#include <simdjson.h>

#include <algorithm>
#include <string>

#include "buffer/salvage.h"
#include "buffer/salvage_scan.h"
#include "buffer/store_format.h"
#include "fuzz_util.h"

using namespace spanvault;

namespace {

bool IsJsonObject(std::string_view s) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  return parser.parse(s.data(), s.size()).get(e) == simdjson::SUCCESS && e.is_object();
}

int64_t ReceivedNs(std::string_view record) {
  uint64_t u = 0;
  for (int i = 8; i >= 1; --i) u = (u << 8) | static_cast<uint8_t>(record[i]);
  return static_cast<int64_t>(u);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::AsText(data, size);
  span::Batch batch;
  int64_t newest = 0;
  while (in.size() >= 2) {
    size_t len = static_cast<uint8_t>(in[0]) | static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8;
    in.remove_prefix(2);
    std::string_view record = in.substr(0, len);
    in.remove_prefix(record.size());

    const size_t spans_before = batch.spans.size();
    const size_t bytes_before = batch.data.size();
    const int64_t received_before = batch.received_ns;
    if (!buffer::SalvageSpanRecord(record, batch)) {
      FUZZ_CHECK(batch.spans.size() == spans_before && batch.data.size() == bytes_before);
      FUZZ_CHECK(batch.received_ns == received_before);
      continue;
    }
    FUZZ_CHECK(batch.spans.size() == spans_before + 1);
    FUZZ_CHECK(record.size() >= buffer::internal::kSpanValueHeader);
    std::string_view json = batch.SpanAt(spans_before);
    FUZZ_CHECK(json == record.substr(buffer::internal::kSpanValueHeader));
    FUZZ_CHECK(IsJsonObject(json));
    newest = std::max(newest, ReceivedNs(record));
    FUZZ_CHECK(batch.received_ns == newest);

    // Written by the store, read back by salvage: the same span and time.
    std::string value;
    buffer::internal::EncodeSpanValue(ReceivedNs(record), json, value);
    span::Batch again;
    FUZZ_CHECK(buffer::SalvageSpanRecord(value, again));
    FUZZ_CHECK(again.SpanAt(0) == json && again.received_ns == std::max<int64_t>(0, ReceivedNs(record)));
  }

  // The whole input as a table file, and as a WAL (buffer/salvage_scan.h):
  // every span found lies inside the bytes scanned and is a JSON object.
  std::string_view whole = fuzz::AsText(data, size);
  auto check = [](std::string_view scanned) {
    return [scanned](const buffer::internal::ScannedSpan& s, std::string_view json) {
      if (!s.readable) {
        FUZZ_CHECK(json.empty());
        return;
      }
      FUZZ_CHECK(s.offset <= scanned.size() && s.length <= scanned.size() - s.offset);
      FUZZ_CHECK(json == scanned.substr(s.offset, s.length));
      FUZZ_CHECK(IsJsonObject(json));
    };
  };
  buffer::internal::ScanCounts table = buffer::internal::ScanTableFile(whole, check(whole));
  buffer::internal::ScanCounts wal_counts;
  std::string joined = buffer::internal::WalPayloads(whole, wal_counts);
  FUZZ_CHECK(joined.size() <= whole.size());
  FUZZ_CHECK(wal_counts.damaged_bytes <= whole.size());
  buffer::internal::ScanCounts wal = buffer::internal::ScanWalStream(joined, check(joined));
  // Spans found never overlap (a span record is at least 11 bytes).
  FUZZ_CHECK(table.spans <= whole.size() / 11 && wal.spans <= joined.size() / 11);
  return 0;
}
