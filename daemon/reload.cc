#include "daemon/reload.h"

#include <algorithm>

namespace spanvault::daemon {
namespace {

// SameUpstream compares field by field (upstream/ has no operator==). A new
// field must be compared too, or changing only it would be reported as
// "unchanged" and not applied: this trips when the struct changes size.
static_assert(sizeof(upstream::UpstreamConfig) == 416 && sizeof(upstream::RetryOptions) == 40,
              "UpstreamConfig or RetryOptions changed: compare the new field in SameUpstream, then update the sizes");

bool SameRetry(const upstream::RetryOptions& a, const upstream::RetryOptions& b) {
  return a.initial == b.initial && a.max == b.max && a.multiplier == b.multiplier && a.auth_pause == b.auth_pause &&
         a.max_retry_after == b.max_retry_after;
}

const upstream::UpstreamConfig* Find(const std::vector<upstream::UpstreamConfig>& list, const std::string& name) {
  for (const auto& u : list) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace

bool SameUpstream(const upstream::UpstreamConfig& a, const upstream::UpstreamConfig& b) {
  return a.name == b.name && a.endpoint == b.endpoint && a.format == b.format && a.dialect == b.dialect &&
         a.public_key == b.public_key && a.secret_key == b.secret_key && a.api_key == b.api_key &&
         a.parent == b.parent && a.headers == b.headers && a.batch_max_spans == b.batch_max_spans &&
         a.batch_max_bytes == b.batch_max_bytes && a.linger == b.linger && a.gzip == b.gzip &&
         a.gzip_level == b.gzip_level && a.concurrency == b.concurrency && a.timeout == b.timeout &&
         SameRetry(a.retry, b.retry) && a.tls_ca_file == b.tls_ca_file &&
         a.tls_insecure_skip_verify == b.tls_insecure_skip_verify && a.max_response_bytes == b.max_response_bytes;
}

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
