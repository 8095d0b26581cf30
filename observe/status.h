// observe/ — the status document shared by `spanvault status` and GET
// /metrics (docs/operations.md): built from the store's, the listeners' and
// the forwarders' own counters; no I/O beyond their getters.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "buffer/span_queue.h"
#include "ipc/ingest.h"
#include "upstream/forwarder.h"

namespace spanvault::observe {

// {"version","pid","uptime_seconds","transports":{NAME:{...}},"buffer":{...}}
std::string BuildStatusJson(const buffer::SpanQueue& queue, const ipc::Counters& counters,
                            const buffer::Options& buffer, const std::filesystem::path& state_dir, int64_t started_ns);

// One element of the status document's "upstreams" array.
nlohmann::json ForwarderStatusJson(const upstream::ForwarderStats& s);

// What a chain of processors did (docs/processors.md): an upstream's
// "processing", and the top-level "ingest_processing".
nlohmann::json ProcessingJson(const std::vector<std::string>& processors, const process::ChainStats& c);

}  // namespace spanvault::observe
