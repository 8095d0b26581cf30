// process/ — the configuration of one processor (a `[[processor]]` table,
// docs/processors.md). config/ reads the TOML into it (processor_table.cc);
// the checks are here, next to the code they protect: Validate() builds the
// processor (conditions parsed, patterns compiled) and reports every problem.
//
//   [[processor]]
//   name = "pii"
//   type = "redact"     # redact | sample | filter | truncate | set
//   detectors = ["email", "phone", "credit_card", "api_key", "ip_address"]
//   patterns = ['(?i)ssn[:= ]+\d{3}-\d{2}-\d{4}']
//   action = "mask"     # mask | hash | drop_field
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spanvault::process {

struct ProcessorConfig {
  std::string name;  // required, unique: [A-Za-z0-9_.-]{1,64}
  std::string type;  // required: redact | sample | filter | truncate | set

  // redact. Default: the five built-in detectors.
  std::vector<std::string> detectors = {"email", "phone", "credit_card", "api_key", "ip_address"};
  // Default: none. RE2 patterns; a match is masked as [REDACTED].
  std::vector<std::string> patterns;
  // redact, truncate, filter: top-level span fields (`metadata` = `attributes`;
  // filter and set also take `attributes.KEY`). Default (empty): redact: input,
  // output, expected, attributes, error; truncate: input, output, expected;
  // filter: none.
  std::vector<std::string> fields;
  // Default: "mask". mask | hash | drop_field.
  std::string action = "mask";
  // Default: none; required by action = "hash". The HMAC key; "${ENV}" and
  // "@/path" are resolved by config/ when loading (like header values).
  std::string hash_key;
  // Default: 1 MiB. Text scanned per span at most; the fields past it are
  // masked whole (counted as gave_up).
  uint64_t max_scan_bytes = 1u << 20;

  // sample. Default: 1 (keep all). Fraction of traces kept, 0..1.
  double rate = 1.0;
  // Default: 0. Mixed into the trace-id hash (same seed: same decision on every host).
  uint32_t hash_seed = 0;
  // Default: none. Conditions that keep a whole trace whatever the rate.
  std::vector<std::string> keep;
  // Default: 30s. How long after a span arrives its trace's keep decision may wait.
  std::chrono::milliseconds decision_wait{30000};

  // filter. Default: none. Spans it holds for are dropped.
  std::string condition;

  // truncate. Default: 0 (required, at least 64). Largest field, in bytes of JSON.
  uint64_t max_bytes = 0;

  // set: path → a JSON value (its text); rename: path → path; delete: paths.
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::pair<std::string, std::string>> rename;
  std::vector<std::string> remove;  // the `delete` key

  // Every problem, prefixed with "processor NAME: ". Builds the processor to
  // find them (parses conditions, compiles patterns).
  std::vector<std::string> Validate() const;

  bool operator==(const ProcessorConfig&) const = default;
};

// The keys a [[processor]] table of `type` may hold (besides name and type);
// empty for an unknown type.
std::vector<std::string_view> ProcessorKeys(std::string_view type);

// "redact", "sample", "filter", "truncate", "set".
bool IsKnownProcessorType(std::string_view type);

// Every problem of a set of processors and the names that refer to them:
// duplicate names, each one's Validate(), and `used` names (each with where it
// is used, e.g. "upstream saas") that name no processor.
std::vector<std::string> ValidateProcessors(const std::vector<ProcessorConfig>& processors,
                                            const std::vector<std::pair<std::string, std::string>>& used);

}  // namespace spanvault::process
