// TraceCommands (cli/trace_commands.h): the trace commands' options, one
// CLI option per parameter of docs/api.md.
#include <CLI/CLI.hpp>

#include "cli/trace_commands.h"

namespace spanvault::cli {
namespace {

struct FilterOption {
  const char* flag;
  const char* param;
  const char* help;
};

constexpr FilterOption kFilters[] = {
    {"--from", "from", "traces that started at or after this: RFC 3339, Unix seconds, or a duration ago (15m, 2h, 7d)"},
    {"--to", "to", "traces that started before this (same forms as --from)"},
    {"--service", "service", "traces with a span of this service"},
    {"--session", "session", "traces with a span of this session_id"},
    {"--user", "user", "traces with a span of this user_id"},
    {"--environment", "environment", "traces with a span of this environment"},
    {"--model", "model", "traces with a span of this model"},
    {"--type", "type", "traces with a span of this type (generation, retrieval, tool, ...)"},
    {"--tag", "tag", "traces with a span with this tag"},
    {"--status", "status", "error (a span failed) or ok (none did)"},
    {"--min-cost", "min_cost", "traces that cost at least this many USD"},
    {"--min-duration-ms", "min_duration_ms", "traces that lasted at least this many milliseconds"},
    {"--q", "q", "case-insensitive substring of a span's name"},
};

void AddFilters(CLI::App* cmd, TraceArgs& a) {
  for (const FilterOption& f : kFilters) {
    auto* opt = cmd->add_option(f.flag, a.filters[f.param], f.help);
    if (std::string_view(f.param) == "status") opt->check(CLI::IsMember({"ok", "error"}));
  }
}

void AddView(CLI::App* cmd, TraceArgs& a, bool ids) {
  cmd->add_flag("--json", a.as_json, "print the daemon's JSON answer");
  cmd->add_flag("--utc", a.utc, "times in UTC (default: the local time zone)");
  if (ids) cmd->add_flag("--full-ids", a.full_ids, "whole trace ids (default: their first 8 characters)");
}

}  // namespace

void TraceCommands::Add(CLI::App& app) {
  TraceArgs& a = args_;
  auto* traces = app.add_subcommand("traces", "list the stored traces, newest first (local retention)");
  AddFilters(traces, a);
  traces->add_option("-n,--limit", a.filters["limit"], "page size, 1-1000 (default 50)");
  traces->add_option("--cursor", a.filters["cursor"], "the next page (the cursor the previous page printed)");
  AddView(traces, a, true);

  auto* trace = app.add_subcommand("trace", "one trace as a tree of spans with a timeline");
  trace->add_option("id", a.id, "trace id")->required();
  AddView(trace, a, false);

  auto* session = app.add_subcommand("session", "one session's traces, oldest first, with their input and output");
  session->add_option("id", a.id, "session id")->required();
  AddView(session, a, true);

  auto* tail = app.add_subcommand("tail", "print new spans as they arrive (Ctrl-C stops)");
  tail->add_flag("--traces", a.traces, "a line per trace that got new spans, instead of per span");
  AddView(tail, a, true);

  auto* exp = app.add_subcommand("export", "write the stored spans matching the filters as JSON lines, oldest first");
  AddFilters(exp, a);
  exp->add_option("-n,--limit", a.filters["limit"], "at most this many rows (default: all)");
  exp->add_option("--shape", a.shape, "spans (canonical spans), dataset (eval rows), otlp (OTLP/JSON requests)")
      ->check(CLI::IsMember({"spans", "dataset", "otlp"}));
  exp->add_option("--span-type", a.span_type, "dataset rows from spans of this type (default: root spans; any: all)");
  exp->add_option("-o,--output", a.output, "write to this file (default: stdout)");

  auto* replay = app.add_subcommand("replay", "re-send the stored spans matching the filters to one upstream");
  replay->add_option("--upstream", a.upstream, "the [[upstream]] name")->required();
  AddFilters(replay, a);
  replay->add_option("-n,--limit", a.filters["limit"], "at most this many spans");
  replay->add_flag("--json", a.as_json, "print the daemon's answer");

  commands_ = {{traces, CmdTraces}, {trace, CmdTrace}, {session, CmdSession},
               {tail, CmdTail},     {exp, CmdExport},  {replay, CmdReplay}};
}

std::optional<int> TraceCommands::Run(const Globals& g) const {
  for (const auto& [cmd, run] : commands_) {
    if (cmd->parsed()) return run(g, args_);
  }
  return std::nullopt;
}

}  // namespace spanvault::cli
