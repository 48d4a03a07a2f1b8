#pragma once

#include <string>
#include <vector>

#include "apisix/resources.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// Endpoints that can take traffic, as APISIX nodes: socket addresses only, UNHEALTHY/DRAINING/TIMEOUT
// skipped, weights kept, Envoy priority p → APISIX priority -p (APISIX tries higher values first).
std::vector<apisix::UpstreamNode> TranslateLoadAssignment(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla,
                                                          const std::string& resource, Diagnostics& skipped);

}  // namespace agent::translate
