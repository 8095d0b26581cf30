// buffer/ — salvage: every span that can still be read from a damaged span
// store (one the daemon moved aside as "<dir>.corrupt-<time>", or one
// brought from elsewhere), for the daemon's automatic salvage and
// `spanvault buffer salvage DIR`.
//
// Reads the store's files and never changes them. RocksDB is not used: a
// damaged footer, index or manifest would make it refuse a whole file, and
// its iterators stop at the first damaged block. Instead every table file
// and WAL of both databases (store_format.h) is scanned for intact span
// records (salvage_scan.h), so damage costs the records it overwrote and
// nothing after them. Spans below the store's head (delivered, deleted
// lazily) are skipped; a span found in several files (a WAL and the table
// it was flushed to) is taken once. Spans keep their canonical JSON
// (received_at, source and cost included) and are handed to `sink` in
// batches, in seq order within each file, files oldest first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "span/batch.h"

namespace spanvault::buffer {

// A text file with a seq in a store directory: spans below it were
// delivered. Written beside a spans database moved aside while the daemon
// ran (it has no main database, where the head lives, beside it).
inline constexpr char kHeadFile[] = "HEAD_SEQ";

struct SalvageResult {
  struct File {
    std::string name;  // relative to the store: "000012.sst", "spans/000034.log"
    uint64_t bytes = 0;
    uint64_t spans = 0;          // span records found (before duplicates and the head are taken out)
    uint64_t damaged_bytes = 0;  // WAL bytes from a record whose checksum failed to its block's end
    std::string error;           // set when the file could not be read
  };
  uint64_t spans = 0;       // spans handed to the sink
  uint64_t unreadable = 0;  // records framed as spans whose span did not read
  uint64_t damaged_wal_records = 0;
  uint64_t duplicates = 0;  // the same span in more than one file
  uint64_t delivered = 0;   // found below the head: delivered (or dropped) before the damage
  uint64_t unknown_seq = 0; // taken although their seq could not be read (right after damage)
  uint64_t head = 0;        // the store's head (0: not found; nothing is skipped as delivered)
  uint64_t first_seq = 0;   // the seqs of the spans taken (0: none)
  uint64_t last_seq = 0;
  // Seq ranges [first, last] between the head and last_seq that were not
  // found (damaged, or never written: a crash can leave gaps); at most 100.
  std::vector<std::pair<uint64_t, uint64_t>> missing;
  uint64_t missing_seqs = 0;  // how many seqs those ranges hold, all of them
  std::vector<File> files;
  std::string repair_note;  // a one-line summary of what could not be read ("" when nothing)

  // Nothing in the store was found damaged: no unreadable record, no WAL
  // checksum failure, no missing seq, no unreadable file.
  bool complete() const;
};

// `sink` gets batches of up to 1000 spans; an error from it stops the
// salvage and is returned. Errors: kInvalidArgument when `dir` is a symbolic
// link or not a RocksDB store, kIo when none of its files could be read.
// Symbolic links inside `dir` are skipped, never followed. Memory: one file's
// bytes and ~48 bytes per span found.
Result<SalvageResult> Salvage(const std::filesystem::path& dir, const std::function<Status(span::Batch&&)>& sink);

// How Salvage reads one value of the spans database: a version-1 span record
// (store_format.h) whose JSON is one well-formed object is appended to
// `batch` (its receive time raising batch.received_ns) and true is returned;
// anything else is unreadable: false, `batch` unchanged. Exposed for the
// fuzz target (tests/fuzz/salvage_fuzz.cc).
bool SalvageSpanRecord(std::string_view value, span::Batch& batch);

}  // namespace spanvault::buffer
