// The trace commands of `spanvault` (docs/cli.md): traces, trace, session,
// tail, export, replay. They read the local query API of the running daemon
// over its stream socket (docs/api.md), so they work whatever the HTTP
// listener's address, and when it is off. Text through cli/render.h,
// `--json` the daemon's answers as they are.
//
// Exit codes: 0 ok; 1 a trace or session not found, local retention off, a
// replay with failures; 2 usage and connection errors, and parameters the
// daemon refuses.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace CLI {
class App;
}

namespace spanvault::cli {

struct TraceArgs {
  // docs/api.md's filter parameters ("from", "min_cost", ...) → value;
  // empty values are not sent.
  std::map<std::string, std::string> filters;
  bool as_json = false;
  bool utc = false;                                // times in UTC instead of the local time zone
  bool full_ids = false;                           // whole trace ids in tables
  std::string id;                                  // `trace ID`, `session ID`
  bool traces = false;                             // `tail --traces`
  std::string shape = "spans", span_type, output;  // `export`
  std::string upstream;                            // `replay`
};

int CmdTraces(const Globals& g, const TraceArgs& a);
int CmdTrace(const Globals& g, const TraceArgs& a);
int CmdSession(const Globals& g, const TraceArgs& a);
int CmdTail(const Globals& g, const TraceArgs& a);
int CmdExport(const Globals& g, const TraceArgs& a);
int CmdReplay(const Globals& g, const TraceArgs& a);

// Registers the trace commands and their options on `app` (main.cc); after
// parsing, Run() runs the one given. Keeps the addresses CLI11 binds: do not
// move it.
class TraceCommands {
 public:
  TraceCommands() = default;
  TraceCommands(const TraceCommands&) = delete;
  TraceCommands& operator=(const TraceCommands&) = delete;

  void Add(CLI::App& app);
  // The exit code of the trace command given, nullopt when none was.
  std::optional<int> Run(const Globals& g) const;

 private:
  TraceArgs args_;
  std::vector<std::pair<CLI::App*, int (*)(const Globals&, const TraceArgs&)>> commands_;
};

}  // namespace spanvault::cli
