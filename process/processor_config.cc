#include "process/processor_config.h"

#include <algorithm>

#include "process/processor.h"
#include "span/json_writer.h"

namespace spanvault::process {
namespace {

constexpr std::string_view kTypes[] = {"redact", "sample", "filter", "truncate", "set"};

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

}  // namespace

bool IsKnownProcessorType(std::string_view type) {
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

std::vector<std::string_view> ProcessorKeys(std::string_view type) {
  if (type == "redact") return {"detectors", "patterns", "fields", "action", "hash_key", "max_scan_bytes"};
  if (type == "sample") return {"rate", "hash_seed", "keep", "decision_wait"};
  if (type == "filter") return {"condition", "fields"};
  if (type == "truncate") return {"max_bytes", "fields"};
  if (type == "set") return {"set", "rename", "delete"};
  return {};
}

std::unique_ptr<Processor> MakeProcessor(const ProcessorConfig& c, std::vector<std::string>* problems,
                                         std::shared_ptr<KeepSet> keep) {
  if (c.type == "redact") return MakeRedact(c, problems);
  if (c.type == "sample") return MakeSample(c, problems, std::move(keep));
  if (c.type == "filter") return MakeFilter(c, problems);
  if (c.type == "truncate") return MakeTruncate(c, problems);
  if (c.type == "set") return MakeSet(c, problems);
  if (c.type.empty()) {
    problems->push_back("type is required (redact, sample, filter, truncate or set)");
  } else {
    problems->push_back("type \"" + c.type + "\" is not one of redact, sample, filter, truncate, set");
  }
  return nullptr;
}

void AppendMember(std::string& out, std::string_view raw_key, std::string_view value, bool* first) {
  if (!*first) out.push_back(',');
  *first = false;
  out.push_back('"');
  out.append(raw_key);
  out += "\":";
  out.append(value);
}

std::vector<std::string> ProcessorConfig::Validate() const {
  std::vector<std::string> raw;
  std::string prefix = "processor " + (name.empty() ? std::string("(unnamed)") : name) + ": ";
  if (!ValidName(name)) raw.push_back("name must be 1-64 of A-Z a-z 0-9 _ . -");
  (void)MakeProcessor(*this, &raw);
  std::vector<std::string> out;
  for (std::string& p : raw) out.push_back(prefix + p);
  return out;
}

std::vector<std::string> ValidateProcessors(const std::vector<ProcessorConfig>& processors,
                                            const std::vector<std::pair<std::string, std::string>>& used) {
  std::vector<std::string> p;
  for (size_t i = 0; i < processors.size(); ++i) {
    for (std::string& problem : processors[i].Validate()) p.push_back(std::move(problem));
    for (size_t j = 0; j < i; ++j) {
      if (!processors[i].name.empty() && processors[i].name == processors[j].name) {
        p.push_back("processor " + processors[i].name + ": the name is used twice");
      }
    }
  }
  for (const auto& [name, where] : used) {
    bool found = std::any_of(processors.begin(), processors.end(), [&](const auto& c) { return c.name == name; });
    if (!found) p.push_back(where + ": processor \"" + name + "\" is not defined by any [[processor]]");
  }
  return p;
}

}  // namespace spanvault::process
