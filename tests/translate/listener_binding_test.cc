// Listener binding and pass-through: which connections reach which routes (Envoy's filter chain
// choice by original destination), and what ORIGINAL_DST clusters become with and without
// original destinations.
#include "translate/listener_binding.h"

#include <gtest/gtest.h>

#include <regex>

#include "translate/translator.h"
#include "translate/from_json.h"

namespace agent::translate {
namespace {

using testing::FromJson;

ChainDestination Outbound(std::string address, uint32_t port) { return {false, ChainDestination::Family::kAny, address, port}; }
ChainDestination Inbound(uint32_t port, ChainDestination::Family family = ChainDestination::Family::kAny) {
  return {true, family, "", port};
}

// Whether a connection that arrived on `server_port` for `dst` matches `vars` (as APISIX's
// lua-resty-expr evaluates them; the ~~ regexes are PCRE that ECMAScript reads the same way).
bool Reaches(const std::vector<apisix::RouteVar>& vars, const std::string& server_port, const std::string& dst) {
  for (const auto& v : vars) {
    const std::string& value = v.var == "server_port" ? server_port : dst;
    const bool hit = v.op == "==" ? value == v.value : std::regex_search(value, std::regex(v.value));
    if (hit == v.negate) return false;
  }
  return true;
}

TEST(ListenerBindingTest, ExactListenersWinOverWildcardsAndWildcardsOverTheCatchAll) {
  const std::vector<RouteUse> all = {{"exact", Outbound("10.96.0.5", 80)},
                                     {"80", Outbound("", 80)},
                                     {"catch-all", Outbound("", 0)}};
  Diagnostics skipped;
  const BindingPorts ports{"server_port", "9080", "9081"};
  auto exact = BindingVars({all[0].where}, "exact", all, "original_dst", ports, "r", skipped);
  auto wildcard = BindingVars({all[1].where}, "80", all, "original_dst", ports, "r", skipped);
  auto catch_all = BindingVars({all[2].where}, "catch-all", all, "original_dst", ports, "r", skipped);
  EXPECT_EQ(exact, (std::vector<apisix::RouteVar>{{"server_port", "==", "9080", false},
                                                  {"original_dst", "==", "10.96.0.5:80", false}}));
  EXPECT_TRUE(Reaches(exact, "9080", "10.96.0.5:80"));
  EXPECT_FALSE(Reaches(wildcard, "9080", "10.96.0.5:80"));  // the exact listener's
  EXPECT_FALSE(Reaches(catch_all, "9080", "10.96.0.5:80"));
  EXPECT_TRUE(Reaches(wildcard, "9080", "10.1.1.1:80"));
  EXPECT_TRUE(Reaches(wildcard, "9080", "[fd00::1]:80"));
  EXPECT_FALSE(Reaches(wildcard, "9080", "10.1.1.1:8080"));
  EXPECT_FALSE(Reaches(wildcard, "9080", "10.1.1.1:180"));  // the port with its colon
  EXPECT_FALSE(Reaches(catch_all, "9080", "10.1.1.1:80"));
  EXPECT_TRUE(Reaches(catch_all, "9080", "10.1.1.1:8080"));
  EXPECT_FALSE(Reaches(wildcard, "9081", "10.1.1.1:80"));  // inbound traffic never reaches outbound routes
  EXPECT_TRUE(skipped.empty());
}

TEST(ListenerBindingTest, InboundPortsAndTheirCatchAllsPerAddressFamily) {
  const std::vector<RouteUse> all = {{"inbound|8080||", Inbound(8080)},
                                     {"inbound|9090||", Inbound(9090)},
                                     {"v4", Inbound(0, ChainDestination::Family::kIpv4)},
                                     {"v6", Inbound(0, ChainDestination::Family::kIpv6)},
                                     {"80", Outbound("", 8080)}};
  Diagnostics skipped;
  const BindingPorts ports{"server_port", "9080", "9081"};
  auto p8080 = BindingVars({all[0].where}, all[0].route_config, all, "original_dst", ports, "r", skipped);
  auto v4 = BindingVars({all[2].where}, "v4", all, "original_dst", ports, "r", skipped);
  auto v6 = BindingVars({all[3].where}, "v6", all, "original_dst", ports, "r", skipped);
  EXPECT_TRUE(Reaches(p8080, "9081", "10.0.0.7:8080"));
  EXPECT_FALSE(Reaches(p8080, "9081", "10.0.0.7:9090"));
  EXPECT_FALSE(Reaches(p8080, "9080", "10.0.0.7:8080"));  // outbound to 8080 is the outbound listener's
  EXPECT_TRUE(Reaches(v4, "9081", "10.0.0.7:7000"));
  EXPECT_FALSE(Reaches(v4, "9081", "[fd00::7]:7000"));
  EXPECT_TRUE(Reaches(v6, "9081", "[fd00::7]:7000"));
  EXPECT_FALSE(Reaches(v4, "9081", "10.0.0.7:8080"));
  EXPECT_FALSE(Reaches(v6, "9081", "[fd00::7]:9090"));
}

TEST(ListenerBindingTest, WithoutAVariableOnlyTheDirectionIsBound) {
  const std::vector<RouteUse> all = {{"inbound|8080||", Inbound(8080)}, {"80", Outbound("", 80)}};
  Diagnostics skipped;
  EXPECT_EQ(BindingVars({all[0].where}, all[0].route_config, all, "", {"server_port", "9080", "9081"}, "r", skipped),
            (std::vector<apisix::RouteVar>{{"server_port", "==", "9081", false}}));
  EXPECT_TRUE(BindingVars({}, "unused", all, "original_dst", {"server_port", "9080", "9081"}, "r", skipped).empty());
}

TEST(ListenerBindingTest, AddressesAreWrittenAsNginxPrintsThem) {
  EXPECT_EQ(DestinationPattern(Outbound("fd00:0::5", 80)), "\\[fd00::5\\]:80");
  EXPECT_EQ(DestinationPattern(Outbound("10.0.0.5", 0)), "10\\.0\\.0\\.5:[0-9]+");
}

const char* kHcm = R"({"name":"hcm","typedConfig":{
    "@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "routeConfig":{"name":"%s","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/"},"route":{"cluster":"%s"}}]}]}}})";

std::string Hcm(const std::string& config, const std::string& cluster) {
  char buffer[1024];
  std::snprintf(buffer, sizeof buffer, kHcm, config.c_str(), cluster.c_str());
  return buffer;
}

xds::ResourceSnapshot InboundMesh() {
  xds::ResourceSnapshot s;
  for (const char* name : {"inbound|8080||", "inbound|9081||", "InboundPassthroughClusterIpv4"}) {
    s.clusters[name] = FromJson<envoy::config::cluster::v3::Cluster>(
        std::string(R"({"name":")") + name + R"(","type":"ORIGINAL_DST","lbPolicy":"CLUSTER_PROVIDED"})");
  }
  s.listeners["virtualInbound"] = FromJson<envoy::config::listener::v3::Listener>(
      std::string(R"({"name":"virtualInbound","trafficDirection":"INBOUND",
        "address":{"socketAddress":{"address":"0.0.0.0","portValue":15006}},
        "listenerFilters":[{"name":"envoy.filters.listener.original_dst"}],
        "filterChains":[
          {"name":"8080","filterChainMatch":{"destinationPort":8080},"filters":[)") +
      Hcm("inbound|8080||", "inbound|8080||") + R"(]},
          {"name":"9081","filterChainMatch":{"destinationPort":9081},"filters":[)" +
      Hcm("inbound|9081||", "inbound|9081||") + R"(]},
          {"name":"catch-all","filterChainMatch":{"prefixRanges":[{"addressPrefix":"0.0.0.0","prefixLen":0}]},
           "filters":[)" +
      Hcm("InboundPassthroughClusterIpv4", "InboundPassthroughClusterIpv4") + R"(]},
          {"name":"narrow","filterChainMatch":{"prefixRanges":[{"addressPrefix":"10.0.0.0","prefixLen":8}]},
           "filters":[)" +
      Hcm("narrow", "InboundPassthroughClusterIpv4") + R"(]}]})");
  return s;
}

bool Has(const Diagnostics& skipped, const std::string& part) {
  for (const auto& s : skipped) {
    if (s.ToString().find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(PassThroughTest, WithOriginalDestinationsOriginalDstClustersPassThrough) {
  TranslateOptions options;
  options.original_dst_var = "original_dst";
  options.bind_direction = true;
  Translation t = Translate(InboundMesh(), options);
  EXPECT_TRUE(t.upstreams.empty());  // ORIGINAL_DST: no upstream object at all
  ASSERT_EQ(t.routes.size(), 3u);    // 8080, 9081 and the catch-all; the /8 chain cannot be bound
  for (const auto& route : t.routes) {
    EXPECT_TRUE(route.upstream_id.empty());
    EXPECT_EQ(route.plugins["serverless-pre-function"]["phase"], "rewrite");
    EXPECT_EQ(route.plugins["serverless-pre-function"]["functions"][0],
              "return function(conf, ctx) return ngx.exec(\"@apisix_mesh_original_dst\") end");
  }
  EXPECT_TRUE(Has(t.skipped, "10.0.0.0/8: only single addresses and whole address families can be bound"));
  EXPECT_TRUE(t.plugins_used.count("serverless-pre-function"));
}

TEST(PassThroughTest, WithoutOriginalDestinationsNothingPointsAtTheCapturePorts) {
  TranslateOptions options;
  options.bind_direction = true;
  Translation t = Translate(InboundMesh(), options);
  ASSERT_EQ(t.upstreams.size(), 1u);  // inbound|8080|| as 127.0.0.1:8080
  EXPECT_EQ(t.upstreams[0].nodes, (std::vector<apisix::UpstreamNode>{{"127.0.0.1", 8080, 1, 0}}));
  ASSERT_EQ(t.routes.size(), 1u);
  EXPECT_EQ(t.routes[0].vars, (std::vector<apisix::RouteVar>{{"server_port", "==", "9081", false}}));
  EXPECT_TRUE(Has(t.skipped, "Cluster inbound|9081||: endpoints: 127.0.0.1:9081 is APISIX's own capture port"));
  EXPECT_TRUE(Has(t.skipped, "Cluster InboundPassthroughClusterIpv4: type: passes traffic through to the original "
                             "destination, which needs the original-destination module"));
  EXPECT_TRUE(Has(t.skipped, "route.cluster: cluster InboundPassthroughClusterIpv4: not translated"));
  EXPECT_TRUE(Has(t.skipped, "share APISIX's inbound port without original destinations"));
}

TEST(PassThroughTest, APassThroughCannotBeOneBranchOfATrafficSplit) {
  xds::ResourceSnapshot s;
  s.clusters["PassthroughCluster"] =
      FromJson<envoy::config::cluster::v3::Cluster>(R"({"name":"PassthroughCluster","type":"ORIGINAL_DST"})");
  s.clusters["c1"] = FromJson<envoy::config::cluster::v3::Cluster>(R"({"name":"c1","type":"STATIC"})");
  s.route_configurations["rc"] = FromJson<envoy::config::route::v3::RouteConfiguration>(
      R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],"routes":[{"match":{"prefix":"/"},
          "route":{"weightedClusters":{"clusters":[{"name":"c1","weight":50},{"name":"PassthroughCluster","weight":50}]}}}]}]})");
  TranslateOptions options;
  options.original_dst_var = "original_dst";
  Translation t = Translate(s, options);
  EXPECT_TRUE(t.routes.empty());
  EXPECT_TRUE(Has(t.skipped, "cannot be one branch of a traffic split"));
}

TEST(PassThroughTest, RegistryOnlyCatchAllAnswersFromTheEmptyBlackHole) {
  xds::ResourceSnapshot s;
  s.clusters["BlackHoleCluster"] =
      FromJson<envoy::config::cluster::v3::Cluster>(R"({"name":"BlackHoleCluster","type":"STATIC"})");
  s.listeners["virtualOutbound"] = FromJson<envoy::config::listener::v3::Listener>(
      R"({"name":"virtualOutbound","useOriginalDst":true,"trafficDirection":"OUTBOUND",
          "address":{"socketAddress":{"address":"0.0.0.0","portValue":15001}},
          "filterChains":[{"name":"virtualOutbound-catchall-tcp","filters":[{"name":"envoy.filters.network.tcp_proxy",
            "typedConfig":{"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                           "statPrefix":"BlackHoleCluster","cluster":"BlackHoleCluster"}}]}]})");
  TranslateOptions options;
  options.original_dst_var = "original_dst";
  options.bind_direction = true;
  Translation t = Translate(s, options);
  ASSERT_EQ(t.upstreams.size(), 1u);
  EXPECT_TRUE(t.upstreams[0].nodes.empty());  // APISIX: "no valid upstream node", 502
  ASSERT_EQ(t.routes.size(), 1u);
  EXPECT_EQ(t.routes[0].upstream_id, t.upstreams[0].id);
  EXPECT_EQ(t.routes[0].priority, 0);
  EXPECT_EQ(t.routes[0].vars, (std::vector<apisix::RouteVar>{{"server_port", "==", "9080", false}}));
  EXPECT_TRUE(Translate(s).routes.empty());  // without original destinations: reported, not routed
}

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

// With the mesh front HTTP arrives on unix sockets: the direction is the socket ($server_addr).
TEST(ListenerBindingTest, BehindTheMeshFrontTheDirectionIsTheSocket) {
  const std::vector<RouteUse> all = {{"in", Inbound(8080)}, {"out", Outbound("", 80)}};
  Diagnostics skipped;
  const BindingPorts sockets{"server_addr", "unix:/a/http-outbound.sock", "unix:/a/http-inbound.sock"};
  auto in = BindingVars({all[0].where}, "in", all, "original_dst", sockets, "r", skipped);
  ASSERT_FALSE(in.empty());
  EXPECT_EQ(in[0], (apisix::RouteVar{"server_addr", "==", "unix:/a/http-inbound.sock", false}));
  auto out = BindingVars({all[1].where}, "out", all, "original_dst", sockets, "r", skipped);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0], (apisix::RouteVar{"server_addr", "==", "unix:/a/http-outbound.sock", false}));
}

}  // namespace
}  // namespace agent::translate
