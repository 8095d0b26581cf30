// buffer/ internal — salvage's reader of raw RocksDB files: finds every span
// record still intact in the bytes of a table file (*.sst) or a WAL (*.log),
// without RocksDB and without trusting any of the file's own structure
// (footer, index, manifest), so that damage costs only the records it
// overwrote. Only buffer/salvage.cc (and its tests and fuzz target) include
// this.
//
// What is recognized (facts of RocksDB's formats, store_format.h for ours):
//   - Table files, uncompressed (the store never compresses): a data block
//     entry is varint32 shared | varint32 non_shared | varint32 value_length
//     | key bytes past the shared prefix | value. A span's internal key is
//     its 8-byte seq and an 8-byte little-endian trailer (RocksDB seqno << 8
//     | type), type 1 (a put). An entry with shared > 0 takes its prefix from
//     the entry before it; right after damage that one is unknown, and such
//     a span is kept with its seq unknown.
//   - WALs: 32 KiB blocks of records, each a 7-byte header (masked CRC-32C
//     of type and payload, u16 length, type) and a payload; a WriteBatch is
//     cut into fragments across blocks. The payloads whose checksum holds are
//     joined into one stream, which holds the batches' entries: tag 1 (a put
//     into the default column family) or 5 and a varint column family id,
//     varint32 key length 8, the seq, varint32 value length, value. From a
//     record whose checksum fails to the end of its block the bytes are
//     taken as they are (a damaged header hides where the next record
//     starts): the spans among them that still read are kept.
//   - The main database's "head" (store_format.h) in either kind of file;
//     the head only ever rises, so the largest one found is the newest.
// A value counts as a span when SalvageSpanRecord (salvage.h) reads it: a
// version-1 record whose JSON is one well-formed object. A candidate whose
// framing holds but whose span does not read is counted as unreadable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace spanvault::buffer::internal {

struct ScannedSpan {
  uint64_t seq = 0;  // 0: unknown (a table entry right after damage)
  int64_t received_ns = 0;
  uint64_t offset = 0;  // of the JSON in the scanned bytes
  uint32_t length = 0;  // of the JSON
  bool readable = true; // false: framed like a span record, span did not read (json empty)
};

struct ScanCounts {
  uint64_t spans = 0;
  uint64_t unreadable = 0;        // framed like a span record, span did not read
  uint64_t damaged_records = 0;   // WAL records whose checksum failed
  uint64_t damaged_bytes = 0;     // WAL bytes from those to their blocks' ends (read unverified)
  uint64_t head = 0;              // largest "head" found (0: none)
};

// Gets every span found, and every record that is framed like one but does
// not read (readable false).
using SpanSink = std::function<void(const ScannedSpan&, std::string_view json)>;

// A version-1 span record (store_format.h) whose JSON is one well-formed
// object: true, with its receive time and JSON. Anything else: false.
bool ReadSpanRecord(std::string_view value, int64_t* received_ns, std::string_view* json);

// Scans a table file's bytes.
ScanCounts ScanTableFile(std::string_view bytes, const SpanSink& sink);

// Joins the payloads of a WAL's records whose checksums hold (counts in
// `counts`), in file order. ScanWalStream then scans that.
std::string WalPayloads(std::string_view file, ScanCounts& counts);
ScanCounts ScanWalStream(std::string_view stream, const SpanSink& sink);

}  // namespace spanvault::buffer::internal
