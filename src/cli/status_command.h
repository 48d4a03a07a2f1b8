// `apisix-mesh-agent status`: asks a running agent's admin endpoint (/syncz) and prints the sync
// state of one sidecar, as `istioctl proxy-status` does for a mesh.
#pragma once

#include <string>

namespace agent::cli {

int RunStatus(const std::string& admin_listen);

}  // namespace agent::cli
