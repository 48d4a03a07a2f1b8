// nginx's error-log lines ("2026/12/01 21:00:00 [warn] 7#7: *3 ...", "nginx: [emerg] ...") carry
// their level in brackets; the agent logs each at that level so an operator's filters work.
#pragma once

#include "absl/strings/string_view.h"
#include "common/logging.h"

namespace agent::apisix {

// debug → debug; info, notice → info; warn → warn; error, crit, alert, emerg → error. A line with
// no nginx level (Lua's print, a shell's message) is `otherwise`.
log::Level NginxLineLevel(absl::string_view line, log::Level otherwise = log::Level::kInfo);

}  // namespace agent::apisix
