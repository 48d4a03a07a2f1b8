// Where bundle mode finds nginx's original-destination module (nginx-original-dst/ in this
// repository): the flag's path, or — with "auto" — beside the agent's executable, then in the
// documented install directory.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace agent::config {

inline constexpr char kOriginalDstModuleFile[] = "ngx_http_original_dst_module.so";
inline constexpr char kOriginalDstModuleDir[] = "/usr/local/lib/apisix-mesh-agent";
inline constexpr char kOriginalDstModuleVar[] = "original_dst";  // the variable the module adds

// The directories "auto" searches, in order: the executable's own directory, then
// kOriginalDstModuleDir.
std::vector<std::string> OriginalDstModuleSearchPath();

// "none" → "" (off); "auto" → the first readable module on the search path, or "" when there is
// none; anything else → that path, which must be a readable file (an error naming it otherwise).
absl::StatusOr<std::string> ResolveOriginalDstModule(const std::string& flag);

// Where original destinations come from: an operator's own variable (--original-dst-var; nothing
// to load) wins; otherwise the module `module_flag` resolves to, with its variable. Both empty:
// none (stock nginx).
struct OriginalDestinations {
  std::string module_path;  // for APISIX to load; empty = nothing to load
  std::string var;          // the nginx variable routes read; empty = not available
};
absl::StatusOr<OriginalDestinations> ResolveOriginalDestinations(const std::string& var_flag,
                                                                 const std::string& module_flag);

}  // namespace agent::config
