// TCP through the mesh: tcp_proxy chains → stream routes, stream upstreams and the mesh front's
// table (docs/interception.md).
#include "translate/tcp_translator.h"

#include <gtest/gtest.h>

#include <map>

#include "translate/from_json.h"
#include "translate/translator.h"
#include "xds/edit_packed.h"

namespace agent::translate {
namespace {

using testing::FromJson;
using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;
using envoy::config::listener::v3::Listener;

constexpr char kTcpProxy[] = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
constexpr char kHcm[] =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

std::string TcpFilter(const std::string& body) {
  return R"({"name":"envoy.filters.network.tcp_proxy","typedConfig":{"@type":")" + std::string(kTcpProxy) +
         R"(","statPrefix":"s",)" + body + "}}";
}

void AddEdsCluster(xds::ResourceSnapshot& s, const std::string& name, const std::vector<std::string>& ips) {
  s.clusters[name] = FromJson<Cluster>(R"({"name":")" + name +
                                       R"(","type":"EDS","connectTimeout":"2s","edsClusterConfig":{"serviceName":")" +
                                       name + R"("}})");
  std::string endpoints;
  for (const auto& ip : ips) {
    if (!endpoints.empty()) endpoints += ",";
    endpoints += R"({"endpoint":{"address":{"socketAddress":{"address":")" + ip + R"(","portValue":27017}}}})";
  }
  s.cluster_load_assignments[name] =
      FromJson<ClusterLoadAssignment>(R"({"clusterName":")" + name + R"(","endpoints":[{"lbEndpoints":[)" + endpoints + "]}]}");
}

// An Istio-shaped sidecar: a TCP service on its VIP, a headless TCP service on the same port, an
// HTTP port with a pass-through default chain, virtualOutbound's catch-all and loop guard, and an
// inbound TCP port.
xds::ResourceSnapshot Mesh() {
  xds::ResourceSnapshot s;
  AddEdsCluster(s, "outbound|27017||mongo", {"10.0.0.1", "10.0.0.2"});
  AddEdsCluster(s, "outbound|27017||headless", {"10.0.0.9"});
  s.clusters["PassthroughCluster"] = FromJson<Cluster>(R"({"name":"PassthroughCluster","type":"ORIGINAL_DST"})");
  s.clusters["BlackHoleCluster"] = FromJson<Cluster>(R"({"name":"BlackHoleCluster","type":"STATIC"})");
  s.clusters["inbound|3306||"] = FromJson<Cluster>(R"({"name":"inbound|3306||","type":"ORIGINAL_DST"})");
  s.listeners["10.96.0.7_27017"] = FromJson<Listener>(
      R"({"name":"10.96.0.7_27017","address":{"socketAddress":{"address":"10.96.0.7","portValue":27017}},
          "bindToPort":false,"filterChains":[{"filters":[)" + TcpFilter(R"("cluster":"outbound|27017||mongo")") + "]}]}");
  s.listeners["0.0.0.0_27017"] = FromJson<Listener>(
      R"({"name":"0.0.0.0_27017","address":{"socketAddress":{"address":"0.0.0.0","portValue":27017}},
          "bindToPort":false,"filterChains":[{"filters":[)" +
      TcpFilter(R"("cluster":"outbound|27017||headless","idleTimeout":"0s")") + "]}]}");
  s.listeners["0.0.0.0_80"] = FromJson<Listener>(
      R"({"name":"0.0.0.0_80","address":{"socketAddress":{"address":"0.0.0.0","portValue":80}},"bindToPort":false,
          "filterChains":[{"filters":[{"name":"hcm","typedConfig":{"@type":")" + std::string(kHcm) +
      R"(","statPrefix":"s","rds":{"routeConfigName":"80"}}}]}],
          "defaultFilterChain":{"name":"PassthroughFilterChain","filters":[)" +
      TcpFilter(R"("cluster":"PassthroughCluster")") + "]}}");
  s.listeners["virtualOutbound"] = FromJson<Listener>(
      R"({"name":"virtualOutbound","address":{"socketAddress":{"address":"0.0.0.0","portValue":15001}},
          "useOriginalDst":true,"filterChains":[
            {"name":"virtualOutbound-blackhole","filterChainMatch":{"destinationPort":15001},"filters":[)" +
      TcpFilter(R"("cluster":"BlackHoleCluster")") + R"(]},
            {"name":"virtualOutbound-catchall-tcp","filters":[)" + TcpFilter(R"("cluster":"PassthroughCluster")") + "]}]}");
  s.listeners["virtualInbound"] = FromJson<Listener>(
      R"({"name":"virtualInbound","address":{"socketAddress":{"address":"0.0.0.0","portValue":15006}},
          "trafficDirection":"INBOUND","listenerFilters":[{"name":"envoy.filters.listener.original_dst"}],
          "filterChains":[{"name":"0.0.0.0_3306","filterChainMatch":{"destinationPort":3306},"filters":[)" +
      TcpFilter(R"("cluster":"inbound|3306||")") + "]}]}");
  return s;
}

TranslateOptions FrontOptions() {
  TranslateOptions o;
  o.original_dst_var = "original_dst";
  o.bind_direction = true;
  o.mesh_front = true;
  return o;
}

std::map<std::string, apisix::Upstream> UpstreamsById(const Translation& t) {
  std::map<std::string, apisix::Upstream> out;
  for (const auto& u : t.upstreams) out[u.id] = u;
  return out;
}

TEST(TcpTranslatorTest, ListenersBecomeTheFrontsTableAndDisjointStreamRoutes) {
  Translation t = Translate(Mesh(), FrontOptions());
  EXPECT_EQ(t.front_table,
            "# apisix-mesh-agent mesh front table: DIRECTION DESTINATION ACTION (docs/interception.md)\n"
            "outbound *:* passthrough\n"
            "outbound *:15001 blackhole\n"
            "outbound *:27017 tcp\n"
            "outbound *:80 http,passthrough\n"
            "outbound 10.96.0.7:27017 tcp\n"
            "inbound *:3306 passthrough\n");
  auto upstreams = UpstreamsById(t);
  std::map<std::string, std::string> routes;  // server_addr:port → upstream name
  for (const auto& r : t.stream_routes) {
    routes[r.server_addr + " " + std::to_string(r.server_port)] = upstreams.at(r.upstream_id).name;
  }
  // The VIP's own listener; the wildcard one on the loopback address of each family (what the
  // front restores for it), so no connection matches two routes.
  EXPECT_EQ(routes, (std::map<std::string, std::string>{{"10.96.0.7 27017", "outbound|27017||mongo (tcp)"},
                                                        {"127.0.0.1 27017", "outbound|27017||headless (tcp)"},
                                                        {"::1 27017", "outbound|27017||headless (tcp)"}}));
  for (const auto& [id, u] : upstreams) {
    if (u.name == "outbound|27017||mongo (tcp)") {
      EXPECT_EQ(u.nodes.size(), 2u);
      EXPECT_EQ(u.idle_timeout_seconds, 3600);  // Envoy's default idle_timeout
      EXPECT_EQ(u.connect_timeout_seconds, 2);
      EXPECT_TRUE(u.checks.is_null());
    }
    if (u.name == "outbound|27017||headless (tcp)") {
      EXPECT_EQ(u.idle_timeout_seconds, 7 * 24 * 3600);  // idleTimeout 0s: none
    }
  }
}

TEST(TcpTranslatorTest, WeightedClustersSplitConnectionsByClusterWeight) {
  xds::ResourceSnapshot s;
  AddEdsCluster(s, "v1", {"10.0.0.1"});
  AddEdsCluster(s, "v2", {"10.0.0.2", "10.0.0.3"});
  s.listeners["10.96.0.8_9000"] = FromJson<Listener>(
      R"({"name":"10.96.0.8_9000","address":{"socketAddress":{"address":"10.96.0.8","portValue":9000}},
          "filterChains":[{"filters":[)" +
      TcpFilter(R"("weightedClusters":{"clusters":[{"name":"v1","weight":80},{"name":"v2","weight":20}]})") + "]}]}");
  Translation t = Translate(s, FrontOptions());
  ASSERT_EQ(t.stream_routes.size(), 1u);
  const apisix::Upstream split = UpstreamsById(t).at(t.stream_routes[0].upstream_id);
  std::map<std::string, uint32_t> weights;
  for (const auto& n : split.nodes) weights[n.host] = n.weight;
  // 80 % to v1's one endpoint, 20 % shared by v2's two, whatever the endpoint counts.
  EXPECT_EQ(weights, (std::map<std::string, uint32_t>{{"10.0.0.1", 80000}, {"10.0.0.2", 10000}, {"10.0.0.3", 10000}}));
}

TEST(TcpTranslatorTest, WhatCannotBeToldApartIsReportedNotGuessed) {
  xds::ResourceSnapshot s;
  AddEdsCluster(s, "a", {"10.0.0.1"});
  s.listeners["10.96.0.9_443"] = FromJson<Listener>(
      R"({"name":"10.96.0.9_443","address":{"socketAddress":{"address":"10.96.0.9","portValue":443}},
          "filterChains":[{"name":"sni","filterChainMatch":{"serverNames":["a.example.com"]},"filters":[)" +
      TcpFilter(R"("cluster":"a")") + R"(]},
            {"name":"first","filters":[)" + TcpFilter(R"("cluster":"missing")") + R"(]},
            {"name":"second","filterChainMatch":{"transportProtocol":"tls"},"filters":[)" +
      TcpFilter(R"("cluster":"a")") + "]}]}");
  Translation t = Translate(s, FrontOptions());
  std::string findings;
  for (const auto& f : t.skipped) findings += f.ToString() + "\n";
  EXPECT_NE(findings.find("chain sni: filter_chain_match.server_names: TLS routing by SNI is not translated"),
            std::string::npos) << findings;
  EXPECT_NE(findings.find("cluster missing is not translated"), std::string::npos) << findings;
  EXPECT_NE(findings.find("chain second: filter_chain_match: another tcp_proxy chain already serves"),
            std::string::npos) << findings;
  // The first chain's cluster is missing: its connections are closed, as Envoy closes them.
  EXPECT_NE(t.front_table.find("outbound 10.96.0.9:443 blackhole\n"), std::string::npos) << t.front_table;
  EXPECT_TRUE(t.stream_routes.empty());
}

TEST(TcpTranslatorTest, OffWithoutTheFrontAndTheEndpointFastPathNeverLeavesAStaleStreamUpstream) {
  Translation plain = Translate(Mesh(), {});
  EXPECT_TRUE(plain.stream_routes.empty());
  EXPECT_TRUE(plain.front_table.empty());

  Translator translator(FrontOptions());
  xds::ResourceSnapshot s = Mesh();
  translator.Translate(s);
  xds::EditPacked(s.cluster_load_assignments["outbound|27017||mongo"], [](auto& cla) {
    cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()
        ->set_address("10.0.0.5");
  });
  Diagnostics skipped;
  // The stream upstream copies the cluster's nodes: the fast path defers to a full translation.
  EXPECT_FALSE(translator.TranslateEndpoints(s, {"outbound|27017||mongo"}, skipped).has_value());
  Translation full = translator.Translate(s);
  bool moved = false;
  for (const auto& u : full.upstreams) {
    if (u.name == "outbound|27017||mongo (tcp)") moved = u.nodes[0].host == "10.0.0.5";
  }
  EXPECT_TRUE(moved);
  EXPECT_TRUE(translator.TranslateEndpoints(s, {"outbound|27017||headless"}, skipped) == std::nullopt);
}

// Found by reading the fuzz target's checks: a listener address that is not an IP (or a port past
// 65535) would have put a line nginx refuses — refusing the whole table — and a stream route APISIX
// rejects.
TEST(TcpTranslatorTest, DestinationsThatAreNotAddressesStayOutOfTheTable) {
  xds::ResourceSnapshot s;
  AddEdsCluster(s, "a", {"10.0.0.1"});
  s.listeners["odd"] = FromJson<Listener>(
      R"({"name":"odd","address":{"socketAddress":{"address":"not an address","portValue":7000}},
          "filterChains":[{"filters":[)" + TcpFilter(R"("cluster":"a")") + "]}]}");
  Translation t = Translate(s, FrontOptions());
  EXPECT_TRUE(t.stream_routes.empty());
  EXPECT_EQ(t.front_table.find("not an address"), std::string::npos) << t.front_table;
  bool reported = false;
  for (const auto& f : t.skipped) reported |= f.reason.find("is not an IP address and port") != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST(TcpTranslatorTest, FrontKeysAreNginxsText) {
  EXPECT_EQ(FrontKey({false, ChainDestination::Family::kAny, "fd00:0::7", 80}), "[fd00::7]:80");
  EXPECT_EQ(FrontKey({false, ChainDestination::Family::kIpv6, "", 80}), "[::]:80");
  EXPECT_EQ(FrontKey({true, ChainDestination::Family::kIpv4, "", 0}), "0.0.0.0:*");
  EXPECT_EQ(FrontKey({true, ChainDestination::Family::kAny, "", 0}), "*:*");
}

}  // namespace
}  // namespace agent::translate
