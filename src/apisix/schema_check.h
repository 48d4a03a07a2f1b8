// Checks emitted APISIX objects against the rules of APISIX's schema_def.lua that the agent's
// output can break (xds-to-apisix-mapping.md §0), so a bad translation is caught in tests rather
// than by APISIX rejecting — or silently mis-loading — a route.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace agent::apisix {

// Each returns the violations found; empty = valid.
std::vector<std::string> CheckRouteSchema(const nlohmann::json& route);
std::vector<std::string> CheckUpstreamSchema(const nlohmann::json& upstream);
std::vector<std::string> CheckStreamRouteSchema(const nlohmann::json& route);

}  // namespace agent::apisix
