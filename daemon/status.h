// The status document shared by `spanvault status` (and, later, /metrics).
#pragma once

#include <string>

#include "buffer/span_queue.h"
#include "daemon/config.h"
#include "ipc/ingest.h"

namespace spanvault::daemon {

// {"version","pid","uptime_seconds","transports":{NAME:{...}},"buffer":{...}}
std::string BuildStatusJson(const buffer::SpanQueue& queue, const ipc::Counters& counters, const Config& config,
                            int64_t started_ns);

}  // namespace spanvault::daemon
