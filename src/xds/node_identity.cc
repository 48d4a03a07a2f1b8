#include "xds/node_identity.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"

extern char** environ;

namespace agent::xds {
namespace {

std::string Env(const char* name, std::string fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The first non-loopback IPv4 address, as a pod has exactly one.
std::string FirstAddress() {
  ifaddrs* list = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&list) != 0) return found;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof(text));
    if (std::string(text) != "127.0.0.1") {
      found = text;
      break;
    }
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

NodeIdentity NodeIdentity::FromEnvironment() {
  NodeIdentity id;
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  id.pod_name = Env("POD_NAME", host);
  id.pod_namespace = Env("POD_NAMESPACE", "default");
  id.instance_ip = Env("INSTANCE_IP", FirstAddress());
  id.cluster_id = Env("ISTIO_META_CLUSTER_ID", "Kubernetes");
  id.istio_version = Env("ISTIO_VERSION");
  id.service_account = Env("SERVICE_ACCOUNT", "default");
  id.labels = ReadLabelsFile(Env("ISTIO_POD_LABELS_FILE", "/etc/istio/pod/labels"));
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view variable(*entry);
    const size_t equals = variable.find('=');
    if (equals == absl::string_view::npos) continue;
    absl::string_view key = variable.substr(0, equals);
    const std::string value(variable.substr(equals + 1));
    if (absl::ConsumePrefix(&key, "ISTIO_METAJSON_")) {
      id.json_metadata[std::string(key)] = value;
    } else if (absl::ConsumePrefix(&key, "ISTIO_META_") && key != "CLUSTER_ID") {
      id.string_metadata[std::string(key)] = value;
    }
  }
  return id;
}

std::map<std::string, std::string> NodeIdentity::ReadLabelsFile(const std::string& path) {
  std::map<std::string, std::string> labels;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    absl::string_view value = absl::string_view(line).substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    labels[line.substr(0, equals)] = std::string(value);
  }
  return labels;
}

std::string NodeIdentity::NodeId() const {
  const std::string domain = dns_domain.empty() ? absl::StrCat(pod_namespace, ".svc.cluster.local") : dns_domain;
  return absl::StrCat("sidecar~", instance_ip, "~", pod_name, ".", pod_namespace, "~", domain);
}

envoy::config::core::v3::Node NodeIdentity::ToNode(const std::string& agent_version) const {
  envoy::config::core::v3::Node node;
  node.set_id(NodeId());
  node.set_cluster(labels.count("app") > 0 ? absl::StrCat(labels.at("app"), ".", pod_namespace) : "istio-proxy");
  node.set_user_agent_name("apisix-mesh-agent");
  node.set_user_agent_version(agent_version);
  auto& fields = *node.mutable_metadata()->mutable_fields();
  auto set = [&](const char* key, const std::string& value) {
    if (!value.empty()) fields[key].set_string_value(value);
  };
  // Strings, objects and string-encoded JSON exactly where istiod's NodeMetadata expects them.
  set("NAMESPACE", pod_namespace);
  set("INSTANCE_IPS", instance_ip);
  set("CLUSTER_ID", cluster_id);
  set("ISTIO_VERSION", istio_version);
  set("SERVICE_ACCOUNT", service_account);
  set("INTERCEPTION_MODE", "REDIRECT");
  set("NAME", pod_name);
  set("POD_PORTS", "[]");
  for (const auto& [key, value] : string_metadata) set(key.c_str(), value);
  for (const auto& [key, json] : json_metadata) {
    google::protobuf::Value decoded;
    if (!google::protobuf::util::JsonStringToMessage(json, &decoded).ok()) {
      log::Warn("ISTIO_METAJSON_%s is not JSON; left out of the node metadata", key);
      continue;
    }
    fields[key] = decoded;
  }
  // LABELS is an object of strings; the labels file wins over ISTIO_METAJSON_LABELS per key.
  auto& label_fields = *fields["LABELS"].mutable_struct_value()->mutable_fields();
  for (const auto& [key, value] : labels) label_fields[key].set_string_value(value);
  return node;
}

}  // namespace agent::xds
