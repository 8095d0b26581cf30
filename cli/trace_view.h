// What cmd_traces.cc and cmd_stream.cc share: the render options for this
// terminal, the parameters from the filter options, printing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/render.h"
#include "cli/trace_client.h"
#include "cli/trace_commands.h"

namespace spanvault::cli {

// Colour when stdout is a TTY and NO_COLOR is unset or empty; its width.
RenderOptions ViewOf(const TraceArgs& a);
// The set filters as the lines' "params" (strings); the cursor only for pages.
nlohmann::json ParamsOf(const TraceArgs& a, bool with_cursor);
// "spanvault: MESSAGE" on stderr; returns the failure's exit code.
int Report(const Failure& f);
// `text` to stdout as is.
void Print(const std::string& text);

}  // namespace spanvault::cli
