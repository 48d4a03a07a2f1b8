#include "translate/cluster_translator.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "translate/endpoint_translator.h"

namespace agent::translate {

using envoy::config::cluster::v3::Cluster;

namespace {

// Envoy's default lb_policy is ROUND_ROBIN (enum value 0), as is APISIX's.
void TranslateLbPolicy(const Cluster& cluster, apisix::Upstream& upstream, const std::string& resource,
                       Diagnostics& skipped) {
  switch (cluster.lb_policy()) {
    case Cluster::ROUND_ROBIN:
      upstream.type = "roundrobin";
      break;
    case Cluster::LEAST_REQUEST:
      upstream.type = "least_conn";
      break;
    case Cluster::RING_HASH:
    case Cluster::MAGLEV:
      // The hash key comes from the route's hash_policy in Envoy; until routes carry it, hash on the
      // client address, which keeps a client on one endpoint as consistent hashing intends.
      upstream.type = "chash";
      upstream.hash_on = "vars";
      upstream.key = "remote_addr";
      break;
    default:
      upstream.type = "roundrobin";
      skipped.push_back({resource, "lb_policy",
                         absl::StrCat(Cluster::LbPolicy_Name(cluster.lb_policy()),
                                      " has no APISIX equivalent; round robin is used")});
      break;
  }
}

// Istio's ORIGINAL_DST clusters send traffic where the connection was going. "inbound|P||…" is the
// local application: iptables REDIRECT keeps the port, so 127.0.0.1:P (Istio 1.9 spelled it that
// way). The passthrough clusters go to APISIX's original-destination server, which proxies to
// $connection_original_dst (bundle mode renders it, on the inbound capture port).
std::optional<apisix::Upstream> TranslateOriginalDestination(const Cluster& cluster, const std::string& resource,
                                                             Diagnostics& skipped) {
  apisix::Upstream upstream;
  upstream.name = cluster.name();
  upstream.desc = absl::StrCat("xds cluster ", cluster.name(), " (original destination)");
  if (cluster.has_connect_timeout()) {
    const auto& d = cluster.connect_timeout();
    upstream.connect_timeout_seconds = static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) / 1e9;
  }
  uint32_t port = 0;
  std::vector<std::string> parts = absl::StrSplit(cluster.name(), '|');
  if (parts.size() >= 2 && parts[0] == "inbound" && absl::SimpleAtoi(parts[1], &port) && port > 0 && port < 65536) {
    upstream.nodes.push_back({"127.0.0.1", port, 1, 0});
    return upstream;
  }
  if (cluster.name() == "PassthroughCluster" || absl::StartsWith(cluster.name(), "InboundPassthroughCluster")) {
    upstream.nodes.push_back({"127.0.0.1", kOriginalDestinationProxyPort, 1, 0});
    return upstream;
  }
  skipped.push_back({resource, "type", "ORIGINAL_DST outside Istio's inbound and passthrough clusters"});
  return std::nullopt;
}

}  // namespace

std::optional<apisix::Upstream> TranslateCluster(const Cluster& cluster, const xds::ResourceSnapshot& snapshot,
                                                 Diagnostics& skipped) {
  const std::string resource = absl::StrCat("Cluster ", cluster.name());
  if (cluster.cluster_discovery_type_case() == Cluster::kClusterType) {
    skipped.push_back({resource, "cluster_type", absl::StrCat("custom cluster type ", cluster.cluster_type().name(),
                                                              " cannot be expressed in APISIX")});
    return std::nullopt;
  }

  if (cluster.type() == Cluster::ORIGINAL_DST) return TranslateOriginalDestination(cluster, resource, skipped);
  switch (cluster.type()) {
    case Cluster::STATIC:
    case Cluster::STRICT_DNS:
    case Cluster::LOGICAL_DNS:
    case Cluster::EDS:
      break;
    default:
      skipped.push_back({resource, "type",
                         absl::StrCat(Cluster::DiscoveryType_Name(cluster.type()), " clusters are not translated yet")});
      return std::nullopt;
  }

  apisix::Upstream upstream;
  upstream.name = cluster.name();
  upstream.desc = absl::StrCat("xds cluster ", cluster.name());
  TranslateLbPolicy(cluster, upstream, resource, skipped);
  if (cluster.has_connect_timeout()) {
    const auto& d = cluster.connect_timeout();
    upstream.connect_timeout_seconds = static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) / 1e9;
  }

  switch (cluster.type()) {
    case Cluster::STATIC:
    case Cluster::STRICT_DNS:
    case Cluster::LOGICAL_DNS:
      upstream.nodes = TranslateLoadAssignment(cluster.load_assignment(), resource, skipped);
      break;
    case Cluster::EDS: {
      const std::string& service = cluster.eds_cluster_config().service_name().empty()
                                       ? cluster.name()
                                       : cluster.eds_cluster_config().service_name();
      auto cla = snapshot.cluster_load_assignments.find(service);
      if (cla != snapshot.cluster_load_assignments.end()) {
        upstream.nodes = TranslateLoadAssignment(cla->second, absl::StrCat("ClusterLoadAssignment ", service), skipped);
      }
      // No assignment yet: an upstream without nodes, as Envoy has a cluster without hosts (503).
      break;
    }
    default:
      break;  // excluded above
  }
  return upstream;
}

}  // namespace agent::translate
