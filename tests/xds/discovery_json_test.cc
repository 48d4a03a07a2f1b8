#include "xds/discovery_json.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "google/protobuf/util/json_util.h"

namespace agent::xds {
namespace {

TEST(DiscoveryJsonTest, DecodesEveryUsedTypeInBothNameStyles) {
  const char* json = R"({
    "version_info": "1",
    "resources": [
      {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c1", "type": "EDS",
       "connect_timeout": "1.5s"},
      {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "clusterName": "c1"},
      {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "r1"},
      {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l1"}
    ]})";
  DecodeReport report;
  auto snapshot = DecodeDiscoveryResponseJson(json, &report);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->clusters.at("c1").connect_timeout().nanos(), 500000000);
  EXPECT_EQ(snapshot->cluster_load_assignments.count("c1"), 1u);
  EXPECT_EQ(snapshot->route_configurations.count("r1"), 1u);
  EXPECT_EQ(snapshot->listeners.count("l1"), 1u);
  EXPECT_TRUE(report.unknown_types.empty());
  EXPECT_TRUE(report.skipped_resources.empty());
}

TEST(DiscoveryJsonTest, UnknownNestedAnyIsSkippedNotFatal) {
  const char* json = R"({"resources": [
    {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l1",
     "filterChains": [{"filters": [{"name": "hcm", "typedConfig": {
       "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
       "rds": {"routeConfigName": "80"},
       "httpFilters": [
         {"name": "istio.stats", "typedConfig": {"@type": "type.googleapis.com/stats.PluginConfig", "x": 1}},
         {"name": "envoy.filters.http.router",
          "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]},
    {"@type": "type.googleapis.com/istio.networking.v1alpha3.Unknown", "name": "x"}
  ]})";
  DecodeReport report;
  auto snapshot = DecodeDiscoveryResponseJson(json, &report);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->listeners.count("l1"), 1u);
  ASSERT_EQ(report.unknown_types.size(), 2u);
  EXPECT_EQ(report.unknown_types[0], "type.googleapis.com/stats.PluginConfig");
  EXPECT_EQ(report.unknown_types[1], "type.googleapis.com/istio.networking.v1alpha3.Unknown");
  EXPECT_EQ(report.skipped_resources.size(), 1u);
}

TEST(DiscoveryJsonTest, BrokenDocumentsFailWithTheParsersReason) {
  DecodeReport report;
  auto truncated = DecodeDiscoveryResponseJson(R"({"resources": [)", &report);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("not valid JSON"), absl::string_view::npos);

  auto wrong_shape = DecodeDiscoveryResponseJson(R"({"resources": 5})", &report);
  ASSERT_FALSE(wrong_shape.ok());
  EXPECT_NE(wrong_shape.status().message().find("not a DiscoveryResponse"), absl::string_view::npos);

  auto bad_field = DecodeDiscoveryResponseJson(
      R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c",
          "connectTimeout": "soon"}]})",
      &report);
  EXPECT_FALSE(bad_field.ok());
}

}  // namespace
}  // namespace agent::xds

namespace agent::xds {
namespace {

// Issue 12, probe 4: 30,000 nested objects (180 KB) in an xDS file crashed the agent (recursion
// in the DOM, its destructor and the unknown-Any rewrite). Refused with the depth; a document
// just inside the limit still decodes.
TEST(DiscoveryJsonTest, DeepNestingIsRefusedNotACrash) {
  std::string deep = R"({"versionInfo":"1","resources":[{"@type":"type.googleapis.com/x.Unknown","v":)";
  for (int i = 0; i < 30000; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 30000; ++i) deep += "}";
  deep += "}]}";
  DecodeReport report;
  auto snapshot = DecodeDiscoveryResponseJson(deep, &report);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_NE(snapshot.status().message().find("nest 30003 levels deep; at most 100"), std::string::npos)
      << snapshot.status();
  // Brackets inside strings do not count.
  auto fine = DecodeDiscoveryResponseJson(
      R"({"versionInfo":"1","typeUrl":"type.googleapis.com/envoy.config.cluster.v3.Cluster","resources":[],"nonce":")" +
          std::string(5000, '[') + "\"}",
      &report);
  EXPECT_TRUE(fine.ok()) << fine.status();
}

// Issue 12, item 10: a tail after the document ("\0garbage") was accepted silently.
TEST(DiscoveryJsonTest, BytesAfterTheDocumentAreRefused) {
  const std::string doc = R"({"versionInfo":"1","typeUrl":"type.googleapis.com/envoy.config.cluster.v3.Cluster","resources":[]})";
  DecodeReport report;
  EXPECT_TRUE(DecodeDiscoveryResponseJson(doc + " \n", &report).ok());
  auto tail = DecodeDiscoveryResponseJson(doc + std::string("\0garbage", 8), &report);
  ASSERT_FALSE(tail.ok());
  EXPECT_NE(tail.status().message().find("unexpected bytes after the JSON document"), std::string::npos);
  EXPECT_FALSE(DecodeDiscoveryResponseJson(doc + doc, &report).ok());
}

}  // namespace
}  // namespace agent::xds

namespace agent::xds {
namespace {

// A cluster resource whose connect timeout says which copy of a name is in force.
std::string ClusterJson(const std::string& name, int seconds) {
  return absl::StrCat(R"({"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":")", name,
                      R"(","type":"EDS","connectTimeout":")", seconds,
                      R"(s","edsClusterConfig":{"edsConfig":{"ads":{}}},"lbPolicy":"LEAST_REQUEST",)",
                      R"("metadata":{"filterMetadata":{"istio":{"services":[{"host":"svc.ns.svc.cluster.local"}]}}}})");
}
std::string Document(const std::vector<std::string>& resources, const std::string& head = R"("versionInfo":"7",)") {
  return absl::StrCat("{", head, "\"resources\":[\n  ", absl::StrJoin(resources, ",\n  "), "\n]}");
}

// Large documents are parsed in parts, one per core: the result must be the one-piece parse's.
TEST(DiscoveryJsonTest, ALargeDocumentDecodesAsItsSmallPiecesDo) {
  std::vector<std::string> resources;
  for (int i = 0; i < 6000; ++i) resources.push_back(ClusterJson(absl::StrCat("outbound|80||s", i), 1));
  resources.push_back(ClusterJson("outbound|80||s3", 9));  // a duplicate, last: in force, reported
  const std::string large = Document(resources);
  ASSERT_GT(large.size(), 1u << 20);  // large enough to be parsed in parts

  DecodeReport report;
  auto whole = DecodeDiscoveryResponseJson(large, &report);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->clusters.size(), 6000u);
  EXPECT_EQ(whole->clusters.at("outbound|80||s3").connect_timeout().seconds(), 9);
  ASSERT_EQ(report.skipped_resources.size(), 1u);
  EXPECT_NE(report.skipped_resources[0].find("outbound|80||s3: duplicate name"), std::string::npos);

  // The same resources in documents small enough to be parsed in one piece each.
  for (size_t from = 0; from < 6000; from += 1000) {
    std::vector<std::string> slice(resources.begin() + from, resources.begin() + from + 1000);
    DecodeReport small_report;
    auto small = DecodeDiscoveryResponseJson(Document(slice), &small_report);
    ASSERT_TRUE(small.ok());
    for (const auto& [name, cluster] : small->clusters) {
      if (name == "outbound|80||s3") continue;
      EXPECT_EQ(cluster.SerializeAsString(), whole->clusters.at(name).SerializeAsString()) << name;
    }
  }
}

TEST(DiscoveryJsonTest, ALargeDocumentIsRefusedAsAWholeOneWouldBe) {
  std::vector<std::string> resources;
  for (int i = 0; i < 6000; ++i) resources.push_back(ClusterJson(absl::StrCat("c", i), 1));
  // A field outside the resources that does not parse.
  DecodeReport report;
  auto bad_head = DecodeDiscoveryResponseJson(Document(resources, R"("versionInfo":{"not":"a string"},)"), &report);
  EXPECT_FALSE(bad_head.ok());
  // One resource that does not parse, in the middle.
  resources[3000] = R"({"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"x","connectTimeout":7})";
  auto bad_resource = DecodeDiscoveryResponseJson(Document(resources), &report);
  ASSERT_FALSE(bad_resource.ok());
  EXPECT_NE(bad_resource.status().message().find("not a DiscoveryResponse"), absl::string_view::npos)
      << bad_resource.status();
  // Two "resources" arrays: the parts path does not guess; the result is protobuf's own reading.
  std::vector<std::string> first(resources.begin(), resources.begin() + 2999);
  std::vector<std::string> second(resources.begin() + 3001, resources.end());
  const std::string one = Document(first);
  const std::string twice = absl::StrCat(one.substr(0, one.size() - 1), ",", Document(second, "").substr(1));
  envoy::service::discovery::v3::DiscoveryResponse reference;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(twice, &reference, options).ok());
  DecodeReport twice_report;
  auto parsed_twice = DecodeDiscoveryResponseJson(twice, &twice_report);
  ASSERT_TRUE(parsed_twice.ok()) << parsed_twice.status();
  EXPECT_EQ(parsed_twice->clusters.size(), static_cast<size_t>(reference.resources_size()));
}

}  // namespace
}  // namespace agent::xds
