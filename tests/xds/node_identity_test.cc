// The Node the agent sends, checked against istiod's parsing rules (reference/xds-istio.md
// §1.2–1.3: ParseServiceNodeWithMetadata, NodeMetadata's JSON types, podKeyByProxy).
#include "xds/node_identity.h"

#include <arpa/inet.h>
#include <stdlib.h>

#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace agent::xds {
namespace {

bool IsIp(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// What istiod checks before it accepts a stream; returns the reason it would reject the node.
std::string IstiodRejects(const envoy::config::core::v3::Node& node) {
  std::vector<std::string> parts = absl::StrSplit(node.id(), '~');
  if (parts.size() != 4) return "missing parts in the service node";
  static const std::set<std::string> kTypes = {"sidecar", "router", "waypoint", "ztunnel", "agentgateway"};
  if (kTypes.count(parts[0]) == 0) return "invalid node type " + parts[0];
  const auto& fields = node.metadata().fields();
  // NodeMetadata's string-typed fields (StringList and StringBool included) must be JSON strings.
  for (const char* key : {"NAMESPACE", "INSTANCE_IPS", "CLUSTER_ID", "ISTIO_VERSION", "INTERCEPTION_MODE",
                          "SERVICE_ACCOUNT", "NAME", "POD_PORTS", "MESH_ID", "WORKLOAD_NAME", "DNS_CAPTURE"}) {
    auto it = fields.find(key);
    if (it != fields.end() && !it->second.has_string_value()) return std::string(key) + " is not a string";
  }
  for (const char* key : {"LABELS", "ANNOTATIONS"}) {
    auto it = fields.find(key);
    if (it == fields.end()) continue;
    if (!it->second.has_struct_value()) return std::string(key) + " is not an object";
    for (const auto& [name, value] : it->second.struct_value().fields()) {
      if (!value.has_string_value()) return std::string(key) + "." + name + " is not a string";
    }
  }
  if (fields.count("POD_PORTS") > 0 && !nlohmann::json::accept(fields.at("POD_PORTS").string_value())) {
    return "POD_PORTS does not hold JSON";
  }
  // The proxy IP: every INSTANCE_IPS entry valid, or the id's IP.
  bool ips_ok = fields.count("INSTANCE_IPS") > 0;
  if (ips_ok) {
    for (absl::string_view ip : absl::StrSplit(fields.at("INSTANCE_IPS").string_value(), ',')) ips_ok &= IsIp(std::string(ip));
  }
  if (!ips_ok && !IsIp(parts[1])) return "no valid IP address in the service node id or metadata";
  // podKeyByProxy: ID = <pod>.<namespace>, used only when it matches metadata NAMESPACE.
  const size_t dot = parts[2].find('.');
  if (dot == std::string::npos) return "proxy id is not pod.namespace";
  if (fields.count("NAMESPACE") == 0 || parts[2].substr(dot + 1) != fields.at("NAMESPACE").string_value()) {
    return "proxy id namespace does not match NAMESPACE";
  }
  if (parts[3] != parts[2].substr(dot + 1) + ".svc.cluster.local") return "unexpected DNS domain " + parts[3];
  return "";
}

TEST(NodeIdentityTest, TheNodeIsWhatIstiodParses) {
  NodeIdentity id;
  id.pod_name = "details-v1-79f774bdb9-6hxw6";
  id.pod_namespace = "bookinfo";
  id.instance_ip = "10.244.0.12";
  id.istio_version = "1.20.8";
  id.labels = {{"app", "details"}, {"version", "v1"}, {"security.istio.io/tlsMode", "istio"}};
  id.string_metadata = {{"MESH_ID", "cluster.local"}, {"DNS_CAPTURE", "true"}};
  id.json_metadata = {{"ANNOTATIONS", R"({"sidecar.istio.io/status":"x"})"}};
  const auto node = id.ToNode("0.1.0");
  EXPECT_EQ(IstiodRejects(node), "");
  EXPECT_EQ(node.id(), "sidecar~10.244.0.12~details-v1-79f774bdb9-6hxw6.bookinfo~bookinfo.svc.cluster.local");
  EXPECT_EQ(node.cluster(), "details.bookinfo");
  EXPECT_EQ(node.user_agent_name(), "apisix-mesh-agent");
  EXPECT_EQ(node.user_agent_version(), "0.1.0");
  const auto& fields = node.metadata().fields();
  EXPECT_EQ(fields.at("LABELS").struct_value().fields().at("version").string_value(), "v1");
  EXPECT_EQ(fields.at("ANNOTATIONS").struct_value().fields().at("sidecar.istio.io/status").string_value(), "x");
  EXPECT_EQ(fields.at("MESH_ID").string_value(), "cluster.local");
  EXPECT_EQ(fields.at("INTERCEPTION_MODE").string_value(), "REDIRECT");
}

TEST(NodeIdentityTest, TheCheckerRejectsWhatIstiodRejects) {
  NodeIdentity id;
  id.pod_name = "p";
  id.instance_ip = "10.0.0.1";
  auto node = id.ToNode("x");
  ASSERT_EQ(IstiodRejects(node), "");
  auto bad = node;
  bad.set_id("sidecar~10.0.0.1~p.default");  // what the original agent got wrong in spirit: the id shape
  EXPECT_NE(IstiodRejects(bad), "");
  bad = node;
  (*bad.mutable_metadata()->mutable_fields())["INSTANCE_IPS"].mutable_list_value();
  EXPECT_NE(IstiodRejects(bad), "");
  bad = node;
  bad.set_id("sidecar~10.0.0.1~4f2c1a~default.svc.cluster.local");  // the Go agent's run id
  EXPECT_NE(IstiodRejects(bad), "");
}

TEST(NodeIdentityTest, FromThePodEnvironment) {
  const std::string labels = ::testing::TempDir() + "/labels";
  std::ofstream(labels) << "app=\"reviews\"\nversion=\"v2\"\n";
  setenv("POD_NAME", "reviews-v2-abc", 1);
  setenv("POD_NAMESPACE", "shop", 1);
  setenv("INSTANCE_IP", "10.1.2.3", 1);
  setenv("ISTIO_POD_LABELS_FILE", labels.c_str(), 1);
  setenv("ISTIO_META_WORKLOAD_NAME", "reviews-v2", 1);
  setenv("ISTIO_METAJSON_ANNOTATIONS", R"({"a":"b"})", 1);
  const NodeIdentity id = NodeIdentity::FromEnvironment();
  for (const char* name : {"POD_NAME", "POD_NAMESPACE", "INSTANCE_IP", "ISTIO_POD_LABELS_FILE", "ISTIO_META_WORKLOAD_NAME",
                           "ISTIO_METAJSON_ANNOTATIONS"}) {
    unsetenv(name);
  }
  const auto node = id.ToNode("x");
  EXPECT_EQ(IstiodRejects(node), "");
  EXPECT_EQ(node.id(), "sidecar~10.1.2.3~reviews-v2-abc.shop~shop.svc.cluster.local");
  EXPECT_EQ(node.metadata().fields().at("LABELS").struct_value().fields().at("app").string_value(), "reviews");
  EXPECT_EQ(node.metadata().fields().at("WORKLOAD_NAME").string_value(), "reviews-v2");
  EXPECT_EQ(node.metadata().fields().at("ANNOTATIONS").struct_value().fields().at("a").string_value(), "b");
  EXPECT_EQ(node.cluster(), "reviews.shop");
}

}  // namespace
}  // namespace agent::xds
