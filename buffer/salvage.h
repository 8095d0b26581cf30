// buffer/ — salvage: what can still be read from a damaged span store (one
// the daemon moved aside as "<dir>.corrupt-<time>"), for `spanvault buffer
// salvage DIR`.
//
// Works on a copy (the damaged store is never changed): RocksDB's RepairDB
// rebuilds the copy's manifest from its table and WAL files, then every span
// that still reads back is handed to `sink` in batches, oldest first. Spans
// keep their canonical JSON (received_at, source and cost included).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "span/batch.h"

namespace spanvault::buffer {

struct SalvageResult {
  uint64_t spans = 0;       // spans handed to the sink
  uint64_t unreadable = 0;  // records that did not decode
  std::string repair_note;  // what RepairDB said, when it complained
};

// `sink` gets batches of up to 1000 spans; an error from it stops the
// salvage and is returned. Errors: kInvalidArgument when `dir` is a symbolic
// link or not a RocksDB store, kIo when the copy or the repair fails.
// Symbolic links inside `dir` are skipped, never followed.
Result<SalvageResult> Salvage(const std::filesystem::path& dir, const std::function<Status(span::Batch&&)>& sink);

// How Salvage reads one value of the spans database: a version-1 span record
// (store_format.h) whose JSON is one well-formed object is appended to
// `batch` (its receive time raising batch.received_ns) and true is returned;
// anything else is unreadable: false, `batch` unchanged. Exposed for the
// fuzz target (tests/fuzz/salvage_fuzz.cc).
bool SalvageSpanRecord(std::string_view value, span::Batch& batch);

}  // namespace spanvault::buffer
