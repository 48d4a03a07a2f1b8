#pragma once

#include "config/sidecar_config.h"

namespace agent::cli {

// Runs the agent until SIGINT/SIGTERM. Returns the process exit code.
int RunSidecar(config::SidecarConfig config);

}  // namespace agent::cli
