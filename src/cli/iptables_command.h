// The `iptables` and `cleanup-iptables` sub-commands.
#pragma once

#include "config/iptables_config.h"

namespace agent::cli {

int RunIptables(config::IptablesConfig config);
int RunCleanupIptables(config::IptablesConfig config);

}  // namespace agent::cli
