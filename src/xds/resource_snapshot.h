// The xDS resources the agent knows, per type and by name: the translator's whole input.
#pragma once

#include <map>
#include <set>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "xds/packed.h"

namespace agent::xds {

inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteConfigurationType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kClusterLoadAssignmentType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// Each resource packed (xds/packed.h): decode what you read, when you read it.
struct ResourceSnapshot {
  std::map<std::string, Packed<envoy::config::listener::v3::Listener>> listeners;
  std::map<std::string, Packed<envoy::config::route::v3::RouteConfiguration>> route_configurations;
  std::map<std::string, Packed<envoy::config::cluster::v3::Cluster>> clusters;
  std::map<std::string, Packed<envoy::config::endpoint::v3::ClusterLoadAssignment>> cluster_load_assignments;

  size_t size() const {
    return listeners.size() + route_configurations.size() + clusters.size() + cluster_load_assignments.size();
  }
  size_t CountOf(const std::string& type) const {
    if (type == kListenerType) return listeners.size();
    if (type == kRouteConfigurationType) return route_configurations.size();
    if (type == kClusterType) return clusters.size();
    if (type == kClusterLoadAssignmentType) return cluster_load_assignments.size();
    return 0;
  }
};

}  // namespace agent::xds

namespace agent::xds {

// What one update changed (added, modified or removed), by type and name, when the source knows.
// It lets the consumer skip unchanged work; a source that does not know passes none.
struct SnapshotChanges {
  std::set<std::string> clusters;
  std::set<std::string> cluster_load_assignments;
  std::set<std::string> listeners;
  std::set<std::string> route_configurations;

  // Only endpoints changed: the common push in a mesh (pods come and go).
  bool EndpointsOnly() const { return clusters.empty() && listeners.empty() && route_configurations.empty(); }
  bool empty() const { return EndpointsOnly() && cluster_load_assignments.empty(); }
  std::set<std::string>& of(const std::string& type) {
    if (type == kClusterType) return clusters;
    if (type == kClusterLoadAssignmentType) return cluster_load_assignments;
    if (type == kListenerType) return listeners;
    return route_configurations;
  }
};

// The ClusterLoadAssignment an EDS cluster takes its endpoints from: eds_cluster_config's
// service_name, or the cluster's own name when that is empty.
inline const std::string& EdsServiceName(const envoy::config::cluster::v3::Cluster& cluster) {
  const std::string& service = cluster.eds_cluster_config().service_name();
  return service.empty() ? cluster.name() : service;
}

}  // namespace agent::xds
