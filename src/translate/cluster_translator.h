#pragma once

#include <optional>

#include "apisix/resources.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "translate/diagnostics.h"
#include "xds/resource_snapshot.h"

namespace agent::translate {

// Cluster → upstream (ID left empty for the caller). Nodes come from the inline load_assignment
// (STATIC, STRICT_DNS, LOGICAL_DNS) or from the ClusterLoadAssignment named by the EDS config.
// Returns nullopt, with the reason in `skipped`, for cluster types APISIX cannot express yet.
// Where APISIX's original-destination proxy listens (the inbound capture port of the original agent).
inline constexpr uint32_t kOriginalDestinationProxyPort = 9081;

std::optional<apisix::Upstream> TranslateCluster(const envoy::config::cluster::v3::Cluster& cluster,
                                                 const xds::ResourceSnapshot& snapshot, Diagnostics& skipped);

}  // namespace agent::translate
