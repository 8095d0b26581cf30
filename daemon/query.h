// daemon/ (private) — the local query API wired into the daemon
// (docs/api.md): BuildQuery creates query::Service over the span queue and
// the query threads (QueryPool, `sv-query`); the hooks hand the HTTP
// listener's /api/... requests and the stream socket's $query, $export,
// $tail and $replay lines to them. ipc/ sees only its own hook types.
//
//   local.api = false            no hooks: /api/... answers 404, the lines are unknown lines
//   local.retention = 0          the hooks answer 404 {"error": "local retention is off ..."}
//   otherwise                    the engine answers, on the query threads
//
// Every answer is produced on a query thread and handed back through the
// hook's callback (the listeners post it to the connection's strand); a
// full queue of query tasks answers 503. Tail subscriptions end when their
// channel closes (client gone, too slow, stop): Unsubscribe runs on a query
// thread, never inside the engine's tail callback.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "daemon/daemon_impl.h"
#include "query/service.h"

namespace spanvault::daemon {

// A socket line's "params" object as query parameters (strings; numbers and
// booleans as their JSON text). Error: not an object, or a nested value.
Result<query::Request> RequestFromLine(std::string path, const nlohmann::json& line);

// {"$replay": UPSTREAM, "params": {...}}: re-sends the matching stored spans
// through that upstream's forwarder, one batch at a time; blocks until done
// (a query thread). The answer line (daemon/query_replay.cc).
std::string ReplayLine(Daemon::Impl& d, const nlohmann::json& line);

}  // namespace spanvault::daemon
