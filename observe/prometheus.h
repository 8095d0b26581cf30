// observe/ — the Prometheus text exposition (format 0.0.4) of the status
// document (see observe/status.h): every counter and gauge of docs/operations.md,
// prefixed `spanvault_`, counters ending in `_total`, base units (seconds,
// bytes), one `# HELP` and `# TYPE` per family. Labels are escaped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace spanvault::observe {

// `status` is the document Daemon::StatusJson() returns (parsed).
std::string RenderPrometheus(const nlohmann::json& status);

}  // namespace spanvault::observe
