// cli/render — the text the trace commands print (traces, trace, session,
// tail, replay), as pure functions: the daemon's JSON answer (docs/api.md) in,
// the lines to print out. No I/O, no clock, no environment: the caller says
// whether to colour, how wide the terminal is and which time zone to show.
//
// Every string taken from a span (names, services, errors, inputs) is made
// safe for a terminal first: control characters become U+FFFD, and widths are
// counted in terminal columns (wide CJK and emoji count 2, combining marks 0),
// truncated on code point boundaries with "…".
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace spanvault::cli {

struct RenderOptions {
  bool color = false;      // ANSI colours (only for a TTY, with NO_COLOR unset)
  bool utc = true;         // times in UTC, else in the local time zone
  bool full_ids = false;   // whole trace ids instead of their first 8 characters
  size_t columns = 0;      // the terminal's width; 0 = unknown (the defaults below)
  size_t bar_width = 24;   // cells between ▕ and ▏ in `trace`
  size_t name_width = 40;  // at most this many columns for a name
};

// ---- text helpers (render_text.cc) ----

// `s` with control characters (C0, DEL, C1) replaced by U+FFFD and invalid
// UTF-8 bytes by U+FFFD: safe to print on a terminal.
std::string Sanitize(std::string_view s);
// Terminal columns `s` takes (after Sanitize).
size_t DisplayWidth(std::string_view s);
// At most `width` columns of `s`, cut on a code point boundary, "…" at the
// end when something was cut. Sanitizes.
std::string Truncate(std::string_view s, size_t width);
// Truncate, then spaces up to `width` columns (left aligned) or before
// (right aligned).
std::string PadRight(std::string_view s, size_t width);
std::string PadLeft(std::string_view s, size_t width);

// "0.4ms", "845ms", "2.31s", "1m02s", "2h05m"; "-" when negative.
std::string FormatMillis(double ms);
// "950", "1,730", "12.3k", "4.5M".
std::string FormatTokens(uint64_t n);
// "$0.00594" (3 significant digits under a cent), "$1.23"; "-" for 0.
std::string FormatCost(double usd);
// "2026-12-07 10:00:00" (UTC or local); the input as is when unparsable.
std::string FormatTime(std::string_view rfc3339, bool utc, bool with_date = true, bool with_millis = false);
// The first 8 characters of a trace id (or all of it with full_ids).
std::string ShortId(std::string_view id, bool full);
// `text` in SGR colour `sgr` ("31" red, "2" dim, ...) when `on`.
std::string Colour(std::string_view text, std::string_view sgr, bool on);
// A span's timeline: `width` cells between ▕ and ▏, "█" from offset to
// offset+duration, scaled to `total` (all in ms); at least one cell.
std::string TimelineBar(double offset_ms, double duration_ms, double total_ms, size_t width);
// A JSON value as one line of text: a string as is, a chat (messages, content,
// text) by its last message's text, anything else compact JSON.
std::string OneLine(const nlohmann::json& v);

// ---- renderers (render_traces.cc, render_tree.cc) ----

// `traces`: the /api/traces answer as an aligned table (time, trace, name,
// service, spans, duration, tokens, cost, status), with the next page's
// --cursor when there is one.
std::string RenderTraceList(const nlohmann::json& answer, const RenderOptions& o);
// `trace ID`: the /api/traces/{id} answer as a tree, one line per span:
// connectors, type, name, a timeline bar scaled to the trace, duration,
// tokens, cost, and an error mark.
std::string RenderTraceTree(const nlohmann::json& answer, const RenderOptions& o);
// `session ID`: the /api/sessions/{id} answer, turn by turn.
std::string RenderSession(const nlohmann::json& answer, const RenderOptions& o);
// `tail`: one line for a tail event ("span" or "trace" with its data).
std::string RenderTailEvent(std::string_view kind, const nlohmann::json& data, const RenderOptions& o);
// `replay`: "replayed N spans to U: D delivered, F failed".
std::string RenderReplay(const nlohmann::json& answer);

}  // namespace spanvault::cli
