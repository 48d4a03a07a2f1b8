// Bundle mode's layered APISIX configuration: the operator's config.yaml (their plugins,
// nginx_config, resolvers, log formats, extra_lua_path …) under the keys the agent must own.
//
// Precedence, deepest key first: a key the agent renders replaces the operator's value at the same
// path — reported as a conflict naming the key and the flag that governs it — except that
//   - `plugins` (and `stream_plugins`) are the union: the agent's list, then the operator's others;
//   - `*_snippet` strings are concatenated: the operator's, then the agent's;
//   - maps merge key by key.
// Everything else the operator wrote is kept as written.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace agent::apisix {

// `required` and `base` are YAML documents (base may be empty). Fails when `base` is not YAML or
// not a mapping. The result starts with `header` (comment lines).
absl::StatusOr<std::string> MergeApisixConfig(const std::string& required, const std::string& base,
                                              const std::string& header, std::vector<std::string>* conflicts);

}  // namespace agent::apisix
