#include "translate/translator.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apisix/resources.h"
#include "apisix/schema_check.h"

#include "translate/from_json.h"
#include "translate/listener_translator.h"
#include "translate/match_translator.h"
#include "translate/route_translator.h"
#include "xds/edit_packed.h"

namespace agent::translate {
namespace {

using testing::FromJson;

xds::ResourceSnapshot Snapshot(const std::string& route_config_json, std::vector<std::string> clusters = {"c1"}) {
  xds::ResourceSnapshot s;
  for (const auto& name : clusters) {
    s.clusters[name] = FromJson<envoy::config::cluster::v3::Cluster>(
        R"({"name":")" + name + R"(","type":"STATIC","loadAssignment":{"endpoints":[{"lbEndpoints":[
            {"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":80}}}}]}]}})");
  }
  auto rc = FromJson<envoy::config::route::v3::RouteConfiguration>(route_config_json);
  s.route_configurations[rc.name()] = rc;
  return s;
}

TEST(TranslatorTest, PathPrefixAndHostsLikeTheOriginalAgent) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh",
      "domains":["a.example.com:8080","a.example.com","*.b.example.com"],
      "routes":[{"match":{"path":"/exact"},"route":{"cluster":"c1"}},
                {"match":{"prefix":"/pre/"},"route":{"cluster":"c1"}}]}]})"));
  ASSERT_EQ(t.routes.size(), 2u);
  EXPECT_EQ(t.routes[0].uris, std::vector<std::string>{"/exact"});
  EXPECT_EQ(t.routes[1].uris, std::vector<std::string>{"/pre/*"});
  EXPECT_EQ(t.routes[0].hosts, (std::vector<std::string>{"a.example.com", "*.b.example.com"}));
  EXPECT_EQ(t.routes[0].upstream_id, t.upstreams.at(0).id);
  EXPECT_GT(t.routes[0].priority, t.routes[1].priority);  // Envoy's first match wins
  EXPECT_TRUE(t.skipped.empty());
}

TEST(TranslatorTest, WildcardDomainMeansAnyHostAndRanksBelowExactHosts) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[
      {"name":"any","domains":["*"],"routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}}]},
      {"name":"exact","domains":["x.svc"],"routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}},
                                                     {"match":{"prefix":"/"},"route":{"cluster":"c1"}}]}]})"));
  ASSERT_EQ(t.routes.size(), 3u);
  EXPECT_TRUE(t.routes[0].hosts.empty());
  EXPECT_LT(t.routes[0].priority, t.routes[2].priority);  // even the exact host's last route
}

TEST(TranslatorTest, HeaderAndQueryMatchersBecomeVars) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/","headers":[
          {"name":"X-User","stringMatch":{"exact":"jason"}},
          {"name":"x-ver","prefixMatch":"v1."},
          {"name":":method","exactMatch":"GET"},
          {"name":"x-debug","presentMatch":true,"invertMatch":true},
          {"name":"x-re","safeRegexMatch":{"regex":"a|b"}}],
        "queryParameters":[{"name":"q","stringMatch":{"exact":"Yes","ignoreCase":true}},{"name":"flag","presentMatch":true}]},
        "route":{"cluster":"c1"}}]}]})"));
  ASSERT_EQ(t.routes.size(), 1u);
  std::vector<apisix::RouteVar> expected = {
      {"http_x_user", "==", "jason", false}, {"http_x_ver", "~~", "^v1\\.", false},
      {"request_method", "==", "GET", false}, {"http_x_debug", "~~", "^.*$", true},
      {"http_x_re", "~~", "^(?:a|b)$", false}, {"arg_q", "~*", "^Yes$", false},
      {"arg_flag", "~~", "^.*$", false}};
  EXPECT_EQ(t.routes[0].vars, expected);
}

TEST(TranslatorTest, UnexpressibleMatchDropsTheRouteInsteadOfWideningIt) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"name":"ranged","match":{"prefix":"/","headers":[{"name":"x-n","rangeMatch":{"start":1,"end":5},"invertMatch":true}]},
                 "route":{"cluster":"c1"}},
                {"name":"unknown-cluster","match":{"prefix":"/"},"route":{"cluster":"nope"}}]}]})"));
  EXPECT_TRUE(t.routes.empty());
  ASSERT_EQ(t.skipped.size(), 2u);
  EXPECT_EQ(t.skipped[0].resource, "RouteConfiguration rc, virtual host vh, route ranged");
  EXPECT_EQ(t.skipped[0].field, "match.headers[0]");
  EXPECT_NE(t.skipped[1].reason.find("cluster nope is not known"), std::string::npos);
}

TEST(TranslatorTest, EdsClusterTakesNodesFromItsAssignment) {
  xds::ResourceSnapshot s;
  s.clusters["outbound|80||a"] = FromJson<envoy::config::cluster::v3::Cluster>(
      R"({"name":"outbound|80||a","type":"EDS","edsClusterConfig":{"serviceName":"svc-a"},"connectTimeout":"0.25s",
          "lbPolicy":"LEAST_REQUEST"})");
  s.cluster_load_assignments["svc-a"] = FromJson<envoy::config::endpoint::v3::ClusterLoadAssignment>(
      R"({"clusterName":"svc-a","endpoints":[
          {"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":80}}},
                           "loadBalancingWeight":3},
                          {"endpoint":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":80}}},
                           "healthStatus":"UNHEALTHY"}]},
          {"priority":1,"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"10.0.1.1","portValue":80}}}}]}]})");
  Translation t = Translate(s);
  ASSERT_EQ(t.upstreams.size(), 1u);
  const apisix::Upstream& u = t.upstreams[0];
  EXPECT_EQ(u.type, "least_conn");
  EXPECT_DOUBLE_EQ(*u.connect_timeout_seconds, 0.25);
  std::vector<apisix::UpstreamNode> nodes = {{"10.0.0.1", 80, 3, 0}, {"10.0.1.1", 80, 1, -1}};
  EXPECT_EQ(u.nodes, nodes);
}

// Found by the xds_translate fuzzer: a domain APISIX's host pattern refuses (spaces, a slash, a
// lone "*." prefix) made APISIX refuse the whole route. Such domains are left out, named; a virtual
// host with no other domain is dropped rather than widened to every host.
TEST(TranslatorTest, DomainsApisixCannotTakeAsHostsAreLeftOut) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[
      {"name":"mixed","domains":["s   hop.example.com","shop.example.com","a/b"],
       "routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}}]},
      {"name":"only-bad","domains":["bad host", ""],"routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}}]}]})"));
  ASSERT_EQ(t.routes.size(), 1u);
  EXPECT_EQ(t.routes[0].hosts, std::vector<std::string>{"shop.example.com"});
  EXPECT_TRUE(apisix::CheckRouteSchema(nlohmann::json::parse(apisix::EncodeJson(t.routes[0]))).empty());
  ASSERT_EQ(t.skipped.size(), 5u);
  EXPECT_EQ(t.skipped[0].reason, "\"s   hop.example.com\": not a host name APISIX accepts");
  EXPECT_EQ(t.skipped[1].reason, "\"a/b\": not a host name APISIX accepts");
  EXPECT_EQ(t.skipped[4].reason, "no domain APISIX can express; the virtual host is dropped");
}

// Found by the xds_translate fuzzer: an endpoint without an address (or past port 65535) became
// a node APISIX's schema refuses, taking the upstream with it. Such endpoints are left out, named.
TEST(TranslatorTest, EndpointsWithoutAnAddressOrWithAnImpossiblePortAreLeftOut) {
  xds::ResourceSnapshot s;
  s.clusters["dns"] = FromJson<envoy::config::cluster::v3::Cluster>(
      R"({"name":"dns","type":"STRICT_DNS","connectTimeout":"1s","loadAssignment":{"clusterName":"dns","endpoints":[
          {"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"portValue":8080}}}},
                          {"endpoint":{"address":{"socketAddress":{"address":"example.org","portValue":70000}}}},
                          {"endpoint":{"address":{"socketAddress":{"address":"example.org","portValue":443}}}}]}]}})");
  Translation t = Translate(s);
  ASSERT_EQ(t.upstreams.size(), 1u);
  std::vector<apisix::UpstreamNode> nodes = {{"example.org", 443, 1, 0}};
  EXPECT_EQ(t.upstreams[0].nodes, nodes);
  ASSERT_EQ(t.skipped.size(), 2u);
  EXPECT_EQ(t.skipped[0].field, "endpoints[0].lb_endpoints[0]");
  EXPECT_EQ(t.skipped[0].reason, "endpoint without an address");
  EXPECT_EQ(t.skipped[1].reason, "endpoint port 70000 is not 1-65535");
  EXPECT_TRUE(apisix::CheckUpstreamSchema(nlohmann::json::parse(apisix::EncodeJson(t.upstreams[0]))).empty());
}

// Found by the xds_translate fuzzer: connect_timeout "0s" became APISIX's timeout.connect 0,
// which APISIX's schema refuses (it must be positive). Left to APISIX's default, reported.
TEST(TranslatorTest, ANonPositiveConnectTimeoutIsLeftToApisixsDefault) {
  xds::ResourceSnapshot s;
  s.clusters["dns"] = FromJson<envoy::config::cluster::v3::Cluster>(
      R"({"name":"dns","type":"STRICT_DNS","connectTimeout":"0s","loadAssignment":{"clusterName":"dns","endpoints":[
          {"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"service1","portValue":8080}}}}]}]}})");
  Translation t = Translate(s);
  ASSERT_EQ(t.upstreams.size(), 1u);
  EXPECT_FALSE(t.upstreams[0].connect_timeout_seconds.has_value());
  EXPECT_TRUE(apisix::CheckUpstreamSchema(nlohmann::json::parse(apisix::EncodeJson(t.upstreams[0]))).empty());
  ASSERT_EQ(t.skipped.size(), 1u);
  EXPECT_EQ(t.skipped[0].field, "connect_timeout");
}

TEST(TranslatorTest, IdsAreStableAndWithinApisixRules) {
  Translation a = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}}]}]})"));
  Translation b = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}}]}]})", {"c0", "c1"}));
  EXPECT_EQ(a.routes[0].id, b.routes[0].id);
  EXPECT_EQ(a.upstreams[0].id, b.upstreams[1].id);  // adding a cluster does not renumber others
  EXPECT_EQ(a.routes[0].id.size(), 16u);
  EXPECT_EQ(a.routes[0].id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(RegexEscapeTest, EscapesPcreMetacharacters) { EXPECT_EQ(RegexEscape("a.b*(c)"), "a\\.b\\*\\(c\\)"); }

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

TEST(ListenerRoutesTest, CollectsRdsNamesAndInlineConfigs) {
  auto listener = FromJson<envoy::config::listener::v3::Listener>(R"({"name":"0.0.0.0_80","filterChains":[
    {"filters":[{"name":"hcm","typedConfig":{
      "@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "rds":{"routeConfigName":"80"}}}]},
    {"filters":[{"name":"hcm","typedConfig":{
      "@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "rds":{"routeConfigName":"80"}}}]},
    {"filters":[{"name":"hcm","typedConfig":{
      "@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "routeConfig":{"virtualHosts":[{"name":"vh","domains":["*"]}]}}}]}]})");
  Diagnostics skipped;
  ListenerRoutes routes = ExtractListenerRoutes(listener, skipped);
  EXPECT_EQ(routes.rds_names, std::vector<std::string>{"80"});
  ASSERT_EQ(routes.inline_configs.size(), 1u);
  EXPECT_EQ(routes.inline_configs[0].name(), "0.0.0.0_80/inline");
  EXPECT_TRUE(skipped.empty());
}

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

TEST(MatchTranslatorTest, RangeGrpcAndCaseInsensitivePaths) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/Api","caseSensitive":false,"grpc":{},
                          "headers":[{"name":"x-n","rangeMatch":{"start":1,"end":5}}]},
                 "route":{"cluster":"c1"}}]}]})"));
  ASSERT_EQ(t.routes.size(), 1u);
  EXPECT_EQ(t.routes[0].uris, std::vector<std::string>{"/*"});
  std::vector<apisix::RouteVar> expected = {{"uri", "~*", "^\\/Api", false},
                                            {"http_content_type", "~~", "^application/grpc", false},
                                            {"http_x_n", ">=", "1", false},
                                            {"http_x_n", "<", "5", false}};
  EXPECT_EQ(t.routes[0].vars, expected);
}

TEST(FilterConfigTest, FaultAndCorsPerRoute) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "typedPerFilterConfig":{"envoy.filters.http.cors":{
          "@type":"type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
          "allowOriginStringMatch":[{"exact":"https://a.com"},{"suffix":".b.com"}],
          "allowMethods":"GET,POST","maxAge":"600","allowCredentials":true}},
      "routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"},
        "typedPerFilterConfig":{"envoy.filters.http.fault":{
          "@type":"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
          "abort":{"httpStatus":503,"percentage":{"numerator":25}},
          "delay":{"fixedDelay":"1.5s","percentage":{"numerator":500000,"denominator":"MILLION"}}}}}]}]})"));
  ASSERT_EQ(t.routes.size(), 1u);
  const auto& plugins = t.routes[0].plugins;
  EXPECT_EQ(plugins["fault-injection"]["abort"], (nlohmann::json{{"http_status", 503}, {"percentage", 25}}));
  EXPECT_EQ(plugins["fault-injection"]["delay"], (nlohmann::json{{"duration", 1.5}, {"percentage", 50}}));
  EXPECT_EQ(plugins["cors"]["allow_origins"], "https://a.com");
  EXPECT_EQ(plugins["cors"]["allow_origins_by_regex"], nlohmann::json::array({"\\.b\\.com$"}));
  EXPECT_EQ(plugins["cors"]["max_age"], 600);
  EXPECT_EQ(plugins["cors"]["allow_credential"], true);
  EXPECT_EQ(t.plugins_used, (std::set<std::string>{"cors", "fault-injection"}));
}

// Without original destinations: the inbound cluster is the local application on its port; the
// pass-through cluster has no address that is not APISIX itself (it was 127.0.0.1:9081, a loop).
TEST(IstioClustersTest, WithoutOriginalDestinationsOnlyInboundClustersGetLocalNodes) {
  xds::ResourceSnapshot s;
  s.clusters["inbound|8080||"] = FromJson<envoy::config::cluster::v3::Cluster>(
      R"({"name":"inbound|8080||","type":"ORIGINAL_DST","lbPolicy":"CLUSTER_PROVIDED"})");
  s.clusters["PassthroughCluster"] = FromJson<envoy::config::cluster::v3::Cluster>(
      R"({"name":"PassthroughCluster","type":"ORIGINAL_DST","lbPolicy":"CLUSTER_PROVIDED"})");
  Translation t = Translate(s);
  ASSERT_EQ(t.upstreams.size(), 1u);
  EXPECT_EQ(t.upstreams[0].name, "inbound|8080||");
  EXPECT_EQ(t.upstreams[0].nodes, (std::vector<apisix::UpstreamNode>{{"127.0.0.1", 8080, 1, 0}}));
  ASSERT_EQ(t.skipped.size(), 1u);
  EXPECT_EQ(t.skipped[0].resource, "Cluster PassthroughCluster");
}

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

TEST(ListenerBindingTest, RoutesMatchOnlyTheirListenersOriginalDestination) {
  xds::ResourceSnapshot s = Snapshot(R"({"name":"9080","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"}}]}]})");
  const char* hcm = R"("filterChains":[{"filters":[{"name":"hcm","typedConfig":{
      "@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "rds":{"routeConfigName":"9080"}}}]}])";
  s.listeners["0.0.0.0_9080"] = FromJson<envoy::config::listener::v3::Listener>(
      std::string(R"({"name":"0.0.0.0_9080","address":{"socketAddress":{"address":"0.0.0.0","portValue":9080}},)") +
      hcm + "}");

  Translation unbound = Translate(s);
  EXPECT_TRUE(unbound.routes.at(0).vars.empty());  // off by default: stock nginx has no such variable

  TranslateOptions options;
  options.original_dst_var = "connection_original_dst";
  Translation wildcard = Translate(s, options);
  EXPECT_EQ(wildcard.routes.at(0).vars.back(),
            (apisix::RouteVar{"connection_original_dst", "~~", "^(?:.*:9080)$", false}));

  s.listeners["10.96.0.5_9080"] = FromJson<envoy::config::listener::v3::Listener>(
      std::string(R"({"name":"10.96.0.5_9080","address":{"socketAddress":{"address":"10.96.0.5","portValue":9080}},)") +
      hcm + "}");
  s.listeners.erase("0.0.0.0_9080");
  Translation exact = Translate(s, options);
  EXPECT_EQ(exact.routes.at(0).vars.back(), (apisix::RouteVar{"connection_original_dst", "==", "10.96.0.5:9080", false}));
}

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

TEST(VersionLineTest, HeaderOperationsBecomeFlatMapsFor2x) {
  Translation t = Translate(Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/"},"route":{"cluster":"c1"},
                 "requestHeadersToAdd":[{"header":{"key":"x-a","value":"1"},"append":false},
                                        {"header":{"key":"x-b","value":"2"}}],
                 "requestHeadersToRemove":["x-c"],
                 "responseHeadersToAdd":[{"header":{"key":"x-d","value":"4"}}]}]}]})"));
  DowngradePluginsTo2x(t);
  EXPECT_EQ(t.routes.at(0).plugins["proxy-rewrite"]["headers"], (nlohmann::json{{"x-a", "1"}, {"x-b", "2"}, {"x-c", ""}}));
  EXPECT_EQ(t.routes.at(0).plugins["response-rewrite"]["headers"], (nlohmann::json{{"x-d", "4"}}));
}

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

std::string Encoded(const Translation& t) {
  std::string out;
  for (const auto& r : t.routes) out += apisix::EncodeJson(r) + "\n";
  for (const auto& u : t.upstreams) out += apisix::EncodeJson(u) + "\n";
  for (const auto& s : t.skipped) out += s.ToString() + "\n";
  return out;
}

TEST(IncrementalTranslatorTest, ReusesUnchangedResourcesAndMatchesAFreshTranslation) {
  xds::ResourceSnapshot s = Snapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],
      "routes":[{"match":{"prefix":"/a"},"route":{"cluster":"c1"}},{"match":{"prefix":"/b"},"route":{"cluster":"c2"}}]}]})",
                                     {"c1", "c2", "c3"});
  s.route_configurations["other"] = FromJson<envoy::config::route::v3::RouteConfiguration>(
      R"({"name":"other","virtualHosts":[{"name":"vh","domains":["x"],"routes":[{"match":{"prefix":"/"},"route":{"cluster":"c3"}}]}]})");
  Translator translator;
  EXPECT_EQ(Encoded(translator.Translate(s)), Encoded(Translate(s)));
  EXPECT_EQ(translator.reused(), 0u);
  EXPECT_EQ(translator.decoded(), 5u);  // each once, though a cluster is read for its facts and its translation

  // Nothing changed: everything reused, and nothing decoded (the cache answers from the bytes).
  EXPECT_EQ(Encoded(translator.Translate(s)), Encoded(Translate(s)));
  EXPECT_EQ(translator.reused(), 5u);  // 3 clusters + 2 route configurations
  EXPECT_EQ(translator.decoded(), 0u);

  // One endpoint of c3 changes: only its upstream is redone (routes depend on an upstream's nodes
  // only when they mirror to it).

  xds::EditPacked(s.clusters["c3"], [](auto& c) {
    c.mutable_load_assignment()->mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()
        ->mutable_address()->mutable_socket_address()->set_address("10.9.9.9");
  });
  EXPECT_EQ(Encoded(translator.Translate(s)), Encoded(Translate(s)));
  EXPECT_EQ(translator.reused(), 4u);
  EXPECT_EQ(translator.decoded(), 1u);

  // A route configuration changes; a cluster goes away.
  xds::EditPacked(s.route_configurations["rc"],
                  [](auto& rc) { rc.mutable_virtual_hosts(0)->mutable_routes(0)->mutable_match()->set_prefix("/z"); });
  s.clusters.erase("c2");
  EXPECT_EQ(Encoded(translator.Translate(s)), Encoded(Translate(s)));
}

}  // namespace
}  // namespace agent::translate

namespace agent::translate {
namespace {

xds::ResourceSnapshot EdsSnapshot(const std::string& route_config_json) {
  xds::ResourceSnapshot s;
  for (const std::string name : {"c1", "c2"}) {
    s.clusters[name] = FromJson<envoy::config::cluster::v3::Cluster>(
        R"({"name":")" + name + R"(","type":"EDS","edsClusterConfig":{"serviceName":"svc-)" + name + R"("}})");
    s.cluster_load_assignments["svc-" + name] = FromJson<envoy::config::endpoint::v3::ClusterLoadAssignment>(
        R"({"clusterName":"svc-)" + name + R"(","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":80}}}}]}]})");
  }
  auto rc = FromJson<envoy::config::route::v3::RouteConfiguration>(route_config_json);
  s.route_configurations[rc.name()] = rc;
  return s;
}

void MoveEndpoint(xds::ResourceSnapshot& s, const std::string& service, const std::string& ip) {
  xds::EditPacked(s.cluster_load_assignments[service], [&](auto& cla) {
    cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()
        ->set_address(ip);
  });
}

// The fast path gives exactly the upstream a full translation gives (route policies included),
// and only for what changed.
TEST(IncrementalTranslatorTest, EndpointFastPathEqualsAFullTranslation) {
  xds::ResourceSnapshot s = EdsSnapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],"routes":[
      {"match":{"prefix":"/a"},"route":{"cluster":"c1","retryPolicy":{"numRetries":3}}},
      {"match":{"prefix":"/b"},"route":{"cluster":"c2"}}]}]})");
  Translator translator;
  Diagnostics skipped;
  EXPECT_FALSE(translator.TranslateEndpoints(s, {"svc-c1"}, skipped).has_value());  // nothing to start from
  translator.Translate(s);
  MoveEndpoint(s, "svc-c1", "10.9.9.9");
  auto updated = translator.TranslateEndpoints(s, {"svc-c1"}, skipped);
  ASSERT_TRUE(updated.has_value());
  ASSERT_EQ(updated->size(), 1u);
  const Translation full = Translate(s);
  auto expected = std::find_if(full.upstreams.begin(), full.upstreams.end(), [](const apisix::Upstream& u) { return u.name == "c1"; });
  ASSERT_NE(expected, full.upstreams.end());
  EXPECT_EQ(apisix::EncodeJson(updated->front()), apisix::EncodeJson(*expected));  // retries kept, nodes new
  // The same bytes again: nothing to write. And a later full call still agrees with a fresh one,
  // redoing only the cluster the fast path touched (its cached translation is stale).
  EXPECT_TRUE(translator.TranslateEndpoints(s, {"svc-c1"}, skipped)->empty());
  EXPECT_EQ(Encoded(translator.Translate(s)), Encoded(Translate(s)));
  EXPECT_EQ(translator.reused(), 2u);  // c2 and the route configuration
  // Fast again after a full call: the policies come from the last full call, not a stale copy.
  MoveEndpoint(s, "svc-c1", "10.9.9.10");
  updated = translator.TranslateEndpoints(s, {"svc-c1"}, skipped);
  ASSERT_TRUE(updated.has_value());
  ASSERT_EQ(updated->size(), 1u);
  const Translation again = Translate(s);
  expected = std::find_if(again.upstreams.begin(), again.upstreams.end(), [](const apisix::Upstream& u) { return u.name == "c1"; });
  ASSERT_NE(expected, again.upstreams.end());
  EXPECT_EQ(apisix::EncodeJson(updated->front()), apisix::EncodeJson(*expected));
}

// An endpoint update that would point an upstream at APISIX's own capture port takes the full
// path, which drops the cluster (a loop by construction) and says so.
TEST(IncrementalTranslatorTest, AnEndpointAtACapturePortTakesTheFullPath) {
  xds::ResourceSnapshot s = EdsSnapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],"routes":[
      {"match":{"prefix":"/a"},"route":{"cluster":"c1"}}]}]})");
  Translator translator;
  translator.Translate(s);
  Diagnostics skipped;
  MoveEndpoint(s, "svc-c1", "127.0.0.1");
  xds::EditPacked(s.cluster_load_assignments["svc-c1"], [](auto& cla) {
    cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()
        ->set_port_value(9081);
  });
  EXPECT_FALSE(translator.TranslateEndpoints(s, {"svc-c1"}, skipped).has_value());
  const Translation full = translator.Translate(s);
  EXPECT_TRUE(full.routes.empty());
  EXPECT_EQ(Encoded(full), Encoded(Translate(s)));
}

TEST(IncrementalTranslatorTest, AMirroredClusterTakesTheFullPath) {
  xds::ResourceSnapshot s = EdsSnapshot(R"({"name":"rc","virtualHosts":[{"name":"vh","domains":["*"],"routes":[
      {"match":{"prefix":"/a"},"route":{"cluster":"c1","requestMirrorPolicies":[{"cluster":"c2"}]}}]}]})");
  Translator translator;
  translator.Translate(s);
  Diagnostics skipped;
  MoveEndpoint(s, "svc-c2", "10.9.9.9");
  EXPECT_FALSE(translator.TranslateEndpoints(s, {"svc-c2"}, skipped).has_value());  // routes embed its first node
  EXPECT_TRUE(translator.TranslateEndpoints(s, {"svc-c1"}, skipped).has_value());
}

}  // namespace
}  // namespace agent::translate
