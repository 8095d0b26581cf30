// ipc/ — control lines of the stream socket: a JSON object whose first key
// starts with '$' ({"$sync": ID}, {"$status": true}, {"$reload": true},
// {"$prices": ...}, {"$dead_letter": ...}, {"$salvage": DIR}, and the query
// lines {"$query": PATH, ...}, $export, $tail, $replay). No I/O.
//
// A control line comes from any process that may write to the socket, so it
// is bounded before it is parsed: its nesting is checked on the bytes (no
// recursion however deep the text), then it is parsed without exceptions.
// Which lines need admin rights is decided here too (NeedsAdmin); who has
// them is ipc/peer_cred.h.
//
// Errors are strings (no <expected>), like the other decoding cores.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace spanvault::ipc {

// Nesting of a control line: {"$dead_letter":"list","ids":[1,2]} is 2.
constexpr uint32_t kMaxControlDepth = 4;
// The JSON text of a $sync id (a string with its quotes, or a number).
constexpr size_t kMaxSyncIdBytes = 128;

struct ControlLine {
  std::string key;     // the first key: "$sync", "$status", ...
  nlohmann::json obj;  // the whole line (an object, at most kMaxControlDepth deep)
};

// True when `text`, read as JSON, opens more than `max_depth` arrays or
// objects inside each other. Brackets inside strings do not count. Does not
// validate the JSON otherwise. O(size), no allocation.
bool JsonNestingExceeds(std::string_view text, uint32_t max_depth);

// Parses one control line (without its '\n'). On success fills `out` and
// returns ""; otherwise returns why it is refused (the line is then answered
// as a rejected line, and the daemon keeps going).
std::string ParseControlLine(std::string_view line, ControlLine* out);

// "" when `id` may be a $sync id (a string or a number, at most
// kMaxSyncIdBytes of JSON text); else why not.
std::string CheckSyncId(const nlohmann::json& id);

// Whether the line changes the daemon or reads other users' data: $reload,
// $salvage, $dead_letter (all verbs: a listing shows span contents), the
// query lines $query, $export, $tail and $replay (docs/api.md), and
// {"$prices": "reload"}. $sync, $status and {"$prices": "unpriced"} are open
// to every client of the socket.
bool NeedsAdmin(const ControlLine& line);

}  // namespace spanvault::ipc
