// The renderers of cli/render.h other than the tree: the trace list (an
// aligned table), a session turn by turn, tail events and the replay count.
#include <algorithm>
#include <vector>

#include "cli/render.h"
#include "cli/render_json.h"

namespace spanvault::cli {
using nlohmann::json;
namespace {

struct Column {
  const char* header;
  bool right;  // right aligned (numbers)
  size_t max;  // at most this many columns (0: no limit)
};

struct Cell {
  std::string text;
  const char* sgr = nullptr;  // colour, when colouring
};

// An aligned table: each column as wide as its widest cell (up to its max),
// two spaces between columns, no trailing spaces.
std::string RenderTable(const std::vector<Column>& cols, const std::vector<std::vector<Cell>>& rows, bool colour) {
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    width[c] = DisplayWidth(cols[c].header);
    for (const auto& r : rows)
      width[c] = std::max(width[c], DisplayWidth(Truncate(r[c].text, cols[c].max ? cols[c].max : SIZE_MAX)));
  }
  auto line = [&](auto cell_text, auto cell_sgr) {
    std::string out;
    for (size_t c = 0; c < cols.size(); ++c) {
      bool last = c + 1 == cols.size();
      std::string t = cols[c].right ? PadLeft(cell_text(c), width[c])
                      : last        ? Truncate(cell_text(c), width[c])
                                    : PadRight(cell_text(c), width[c]);
      const char* sgr = cell_sgr(c);
      out += (c ? "  " : "") + (sgr ? Colour(t, sgr, colour) : t);
    }
    return out + "\n";
  };
  std::string out =
      line([&](size_t c) { return std::string(cols[c].header); }, [](size_t) -> const char* { return nullptr; });
  for (const auto& r : rows) {
    out += line([&](size_t c) { return r[c].text; }, [&](size_t c) { return r[c].sgr; });
  }
  return out;
}

std::string StatusText(const json& summary) {
  uint64_t errors = U64(summary, "errors");
  if (Str(summary, "status") == "error" || errors > 0) {
    return errors > 1 ? "error ×" + std::to_string(errors) : "error";
  }
  return Str(summary, "status", "ok");
}

std::string NameOf(const json& summary) {
  std::string name = Str(summary, "name");
  return name.empty() ? "(no root span yet)" : name;
}

}  // namespace

std::string RenderTraceList(const json& answer, const RenderOptions& o) {
  const json& traces = Field(answer, "traces");
  if (!traces.is_array() || traces.empty()) return "no traces match\n";
  std::vector<Column> cols = {{"TIME", false, 0},     {"TRACE", false, 0}, {"NAME", false, o.name_width},
                              {"SERVICE", false, 20}, {"SPANS", true, 0},  {"DURATION", true, 0},
                              {"TOKENS", true, 0},    {"COST", true, 0},   {"STATUS", false, 0}};
  std::vector<std::vector<Cell>> rows;
  for (const json& t : traces) {
    std::string status = StatusText(t);
    rows.push_back({{FormatTime(Str(t, "start_time"), o.utc), "2"},
                    {ShortId(Str(t, "trace_id"), o.full_ids), "33"},
                    {NameOf(t)},
                    {Str(t, "service")},
                    {std::to_string(U64(t, "spans"))},
                    {FormatMillis(Num(t, "duration_ms", -1))},
                    {FormatTokens(U64(t, "total_tokens"))},
                    {FormatCost(Cost(t, "cost"))},
                    {status, status.starts_with("error") ? "31" : "32"}});
  }
  std::string out = RenderTable(cols, rows, o.color);
  if (const json& next = Field(answer, "next_cursor"); next.is_string()) {
    out += "more: --cursor " + Sanitize(next.get<std::string>()) + "\n";
  }
  return out;
}

std::string RenderSession(const json& answer, const RenderOptions& o) {
  const json& totals = Field(answer, "totals");
  std::string out = Colour("session " + Sanitize(Str(answer, "session_id")), "1", o.color) + "  " +
                    std::to_string(U64(totals, "traces")) + " traces  " + std::to_string(U64(totals, "spans")) +
                    " spans  " + std::to_string(U64(totals, "errors")) + " errors  " +
                    FormatTokens(U64(totals, "total_tokens")) + " tokens  " + FormatCost(Cost(totals, "cost")) + "\n";
  size_t text_width = o.columns > 8 ? o.columns - 4 : 100;
  for (const json& t : Field(answer, "traces")) {
    std::string status = StatusText(t);
    out += "\n" + Colour(FormatTime(Str(t, "start_time"), o.utc), "2", o.color) + "  " +
           Colour(ShortId(Str(t, "trace_id"), o.full_ids), "33", o.color) + "  " + Truncate(NameOf(t), o.name_width) +
           "  " + FormatMillis(Num(t, "duration_ms", -1)) + "  " + FormatTokens(U64(t, "total_tokens")) + " tok  " +
           FormatCost(Cost(t, "cost")) + "  " + Colour(status, status.starts_with("error") ? "31" : "32", o.color) +
           "\n";
    if (std::string in = OneLine(Field(t, "input")); !in.empty()) {
      out += "  " + Colour(">", "36", o.color) + " " + Truncate(in, text_width) + "\n";
    }
    if (std::string output = OneLine(Field(t, "output")); !output.empty()) {
      out += "  " + Colour("<", "35", o.color) + " " + Truncate(output, text_width) + "\n";
    }
  }
  return out;
}

// One line per event, fixed widths so that consecutive lines align:
// time, trace, type, name, duration, tokens, cost, status.
std::string RenderTailEvent(std::string_view kind, const json& d, const RenderOptions& o) {
  bool trace = kind == "trace";
  std::string status = trace ? StatusText(d) : Str(d, "status", "ok");
  bool error = status.starts_with("error");
  std::string name = trace ? NameOf(d) + " (" + std::to_string(U64(d, "spans")) + " spans)" : Str(d, "name");
  std::string tokens = FormatTokens(U64(d, "total_tokens"));
  std::string line = Colour(FormatTime(Str(d, "start_time"), o.utc, false, true), "2", o.color) + "  " +
                     Colour(PadRight(ShortId(Str(d, "trace_id"), o.full_ids), o.full_ids ? 32 : 8), "33", o.color) +
                     "  " + Colour(PadRight(trace ? "trace" : Str(d, "type", "span"), 10), "36", o.color) + "  " +
                     PadRight(name, o.name_width) + "  " + PadLeft(FormatMillis(Num(d, "duration_ms", -1)), 8) + "  " +
                     PadLeft(tokens, 6) + " tok  " + PadLeft(FormatCost(Cost(d, "cost")), 11) + "  " +
                     Colour(status, error ? "31" : "32", o.color);
  return line + "\n";
}

std::string RenderReplay(const json& answer) {
  return "replayed " + std::to_string(U64(answer, "spans")) + " spans to " + Sanitize(Str(answer, "$replay")) + ": " +
         std::to_string(U64(answer, "delivered")) + " delivered, " + std::to_string(U64(answer, "failed")) +
         " failed\n";
}

}  // namespace spanvault::cli
