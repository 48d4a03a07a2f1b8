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
  // Further metadata, as pilot-agent passes it on: ISTIO_META_<KEY>=value becomes KEY (a
  // string), ISTIO_METAJSON_<KEY>=<json> becomes KEY (the decoded JSON value).
  std::map<std::string, std::string> string_metadata;
  std::map<std::string, std::string> json_metadata;

  // From the pod environment the injector sets (POD_NAME, POD_NAMESPACE, INSTANCE_IP,
  // SERVICE_ACCOUNT, ISTIO_VERSION, ISTIO_META_*, ISTIO_METAJSON_*) and the downward-API labels
  // file (/etc/istio/pod/labels, or $ISTIO_POD_LABELS_FILE); the host name and its first address
  // when they are missing.
  static NodeIdentity FromEnvironment();

  // Reads a downward-API labels file: one key="value" per line. Unreadable → empty.
  static std::map<std::string, std::string> ReadLabelsFile(const std::string& path);

  std::string NodeId() const;
  envoy::config::core::v3::Node ToNode(const std::string& agent_version) const;
};

}  // namespace agent::xds
