// config/ — `[[processor]]` tables (docs/processors.md) into
// process::ProcessorConfig: the TOML side only; what the values mean is
// checked by ProcessorConfig::Validate (process/processor_config.h).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "process/processor_config.h"

namespace spanvault::daemon {

// Reads one [[processor]] table. Every problem (unknown key, a key of another
// type, a value of the wrong TOML type, an unreadable hash_key file or unset
// variable) is appended as "FILE:LINE: WHERE.KEY: what". hash_key's "${ENV}"
// and "@/path" are resolved here (like header values).
process::ProcessorConfig ReadProcessorTable(const toml::table& table, const std::string& where, const std::string& file,
                                            std::vector<std::string>* problems);

}  // namespace spanvault::daemon
