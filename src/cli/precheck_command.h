// The `precheck` sub-command: can bundle mode run here? One line per check, non-zero on failure.
#pragma once

#include "config/sidecar_config.h"

namespace agent::cli {

int RunPrecheck(const config::SidecarConfig& config);

}  // namespace agent::cli
