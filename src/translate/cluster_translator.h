#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "translate/diagnostics.h"
#include "xds/resource_snapshot.h"

namespace agent::translate {

// Cluster → upstream (ID left empty for the caller). Nodes come from the inline load_assignment
// (STATIC, STRICT_DNS, LOGICAL_DNS) or from the ClusterLoadAssignment named by the EDS config.
// Returns nullopt, with the reason in `skipped`, for cluster types APISIX cannot express yet.
std::optional<apisix::Upstream> TranslateCluster(const envoy::config::cluster::v3::Cluster& cluster,
                                                 const xds::ResourceSnapshot& snapshot, Diagnostics& skipped);

// Istio's original-destination clusters: "inbound|P||…" (the local application), PassthroughCluster
// and InboundPassthroughCluster* (where the connection was going), any other ORIGINAL_DST cluster.
bool IsOriginalDestination(const envoy::config::cluster::v3::Cluster& cluster);

// Without the original destination, the one ORIGINAL_DST cluster that can still be expressed:
// "inbound|P||…" as 127.0.0.1:P (iptables REDIRECT keeps the port). nullopt (the reason in
// `skipped`) for the pass-through clusters, which would otherwise have to point at APISIX itself.
std::optional<apisix::Upstream> TranslateInboundWithoutOriginalDestination(const envoy::config::cluster::v3::Cluster& cluster,
                                                                           Diagnostics& skipped);

// "127.0.0.1:9080": the first node on a loopback address at one of `ports` (APISIX's own capture
// ports: a loop by construction), or empty.
std::string LoopingNode(const apisix::Upstream& upstream, const std::vector<uint32_t>& ports);

}  // namespace agent::translate
