// Bundle mode's wiring: from the sidecar's flags to APISIX's rendered config file and its
// supervised process.
#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "apisix/apisix_runner.h"
#include "config/sidecar_config.h"

namespace agent::cli {

// Renders and installs <home>/conf/config.yaml for the agent listening on `etcd_port`, and
// returns the (not yet started) runner for APISIX.
absl::StatusOr<std::unique_ptr<apisix::ApisixRunner>> PrepareApisix(
    const config::SidecarConfig& config, uint16_t etcd_port, std::function<void(bool)> on_serving,
    std::function<void(const absl::Status&)> on_give_up);

}  // namespace agent::cli
