// The status document shared by `spanvault status` and GET /metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "buffer/span_queue.h"
#include "config/config.h"
#include "ipc/ingest.h"
#include "upstream/forwarder.h"

namespace spanvault::daemon {

// {"version","pid","uptime_seconds","transports":{NAME:{...}},"buffer":{...}}
std::string BuildStatusJson(const buffer::SpanQueue& queue, const ipc::Counters& counters, const Config& config,
                            int64_t started_ns);

// One element of the status document's "upstreams" array.
nlohmann::json ForwarderStatusJson(const upstream::ForwarderStats& s);

// Answers {"$dead_letter": "list" | "replay" | "purge", "ids": [..], "upstream": "..", "limit": N}:
//   list   → {"$dead_letter":"list","entries":[DeadLetter::ToJson()...]}  (newest first)
//   replay → {"$dead_letter":"replay","ok":true,"replayed":N} or {"ok":false,"error":".."}
//   purge  → {"$dead_letter":"purge","ok":true,"purged":N}
// nullopt for an unknown verb.
std::optional<std::string> DeadLetterControl(buffer::SpanQueue& queue, const nlohmann::json& line);

}  // namespace spanvault::daemon
