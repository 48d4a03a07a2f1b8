// Who the agent is to istiod: the Node of every xDS request (xds-istio.md §1.2–1.3). The id must be
// sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local and the metadata values must have the JSON
// types istiod parses them into, or the stream is rejected.
#pragma once

#include <map>
#include <string>

#include "envoy/config/core/v3/base.pb.h"

namespace agent::xds {

struct NodeIdentity {
  std::string pod_name;
  std::string pod_namespace = "default";
  std::string instance_ip;
  std::string cluster_id = "Kubernetes";
  std::string istio_version;
  std::string service_account;
  std::string dns_domain;  // default <namespace>.svc.cluster.local
  std::map<std::string, std::string> labels;

  // From the pod environment the injector sets (POD_NAME, POD_NAMESPACE, INSTANCE_IP,
  // SERVICE_ACCOUNT, ISTIO_META_CLUSTER_ID, ISTIO_VERSION); the host name and its first address
  // when they are missing.
  static NodeIdentity FromEnvironment();

  std::string NodeId() const;
  envoy::config::core::v3::Node ToNode(const std::string& agent_version) const;
};

}  // namespace agent::xds
