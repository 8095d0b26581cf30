// GET /metrics: the Prometheus text exposition of the status document.
#include <nlohmann/json.hpp>

#include "daemon/daemon.h"
#include "daemon/prometheus.h"

namespace spanvault::daemon {

std::string Daemon::MetricsText() const {
  nlohmann::json status = nlohmann::json::parse(StatusJson(), nullptr, /*allow_exceptions=*/false);
  if (status.is_discarded()) return "spanvault_up 1\n";
  return RenderPrometheus(status);
}

}  // namespace spanvault::daemon
