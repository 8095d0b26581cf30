#include "daemon/reload.h"

#include <algorithm>

namespace spanvault::daemon {
namespace {

const upstream::UpstreamConfig* Find(const std::vector<upstream::UpstreamConfig>& list, const std::string& name) {
  for (const auto& u : list) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace

bool SameUpstream(const upstream::UpstreamConfig& a, const upstream::UpstreamConfig& b) { return a == b; }

UpstreamDiff DiffUpstreams(const std::vector<upstream::UpstreamConfig>& running,
                           const std::vector<upstream::UpstreamConfig>& next) {
  UpstreamDiff d;
  for (const auto& u : running) {
    if (Find(next, u.name) == nullptr) d.removed.push_back(u.name);
  }
  for (const auto& u : next) {
    const upstream::UpstreamConfig* old = Find(running, u.name);
    if (old == nullptr) {
      d.added.push_back(u.name);
    } else if (SameUpstream(*old, u)) {
      d.unchanged.push_back(u.name);
    } else {
      d.changed.push_back(u.name);
    }
  }
  return d;
}

std::vector<std::string> RestartOnlyChanges(const Config& running, const Config& next) {
  std::vector<std::string> keys = ChangedKeys(running, next);
  std::erase_if(keys, [](const std::string& k) {
    return std::find(std::begin(kLiveKeys), std::end(kLiveKeys), k) != std::end(kLiveKeys);
  });
  return keys;
}

nlohmann::json ReloadReport::ToJson() const {
  nlohmann::json j;
  j["ok"] = ok();
  j["config_errors"] = config_errors;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : failed) failures.push_back({{"name", f.upstream}, {"error", f.error}});
  j["upstreams"] = {{"added", added},
                    {"removed", removed},
                    {"changed", changed},
                    {"unchanged", unchanged},
                    {"failed", std::move(failures)}};
  j["needs_restart"] = needs_restart;
  j["applied"] = applied;
  j["prices"] = {{"ok", prices_ok}};
  if (!prices_ok) j["prices"]["error"] = prices_error;
  return j;
}

}  // namespace spanvault::daemon
