#include "xds/json_wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/discovery_json.h"

namespace agent::xds {
namespace {

namespace fs = std::filesystem;
using envoy::service::discovery::v3::DiscoveryResponse;

struct Read {
  bool taken = false;  // the fast reader took the document
  DiscoveryResponse response;
  std::vector<std::string> unknown_types;
  std::string declined_near;  // the text around where it declined
};

Read Fast(absl::string_view json) {
  Read read;
  size_t at = 0;
  std::optional<std::string> wire = JsonToWire(json, DiscoveryResponse::descriptor(), &read.unknown_types, &at);
  read.taken = wire.has_value() && read.response.ParseFromString(*wire);
  if (!wire) read.declined_near = absl::StrCat(json.substr(at < 60 ? 0 : at - 60, at < 60 ? at : 60), "<HERE>", json.substr(at, 200));
  return read;
}

// The fast reader either declines or agrees with protobuf's parser: the same message (Anys
// compared unpacked) and the same unknown types.
void ExpectSameAsProtobuf(absl::string_view json, const std::string& where) {
  Read fast = Fast(json);
  if (!fast.taken) return;
  DecodeReport report;
  auto reference = ParseDiscoveryResponseWithProtobuf(json, &report);
  ASSERT_TRUE(reference.ok()) << where << ": the fast reader took what protobuf refuses: " << reference.status();
  google::protobuf::util::MessageDifferencer differencer;
  std::string differences;
  differencer.ReportDifferencesToString(&differences);
  EXPECT_TRUE(differencer.Compare(fast.response, *reference)) << where << ":\n" << differences;
  std::sort(fast.unknown_types.begin(), fast.unknown_types.end());
  std::sort(report.unknown_types.begin(), report.unknown_types.end());
  EXPECT_EQ(fast.unknown_types, report.unknown_types) << where;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<fs::path> JsonFilesUnder(const fs::path& root) {
  std::vector<fs::path> files;
  if (!fs::is_directory(root)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

const char kListener[] = R"({"version_info": "7", "type_url": "type.googleapis.com/envoy.config.listener.v3.Listener",
  "resources": [
  {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "0.0.0.0_80",
   "address": {"socketAddress": {"address": "0.0.0.0", "portValue": 80}},
   "trafficDirection": "OUTBOUND", "bindToPort": false, "listenerFiltersTimeout": "0.100s",
   "metadata": {"filterMetadata": {"istio": {"n": 1.5, "list": [true, null, "x", {"k": []}], "e": {}}}},
   "filterChains": [{"filterChainMatch": {"destinationPort": 80, "applicationProtocols": ["http/1.1", "h2c"]},
     "filters": [{"name": "envoy.filters.network.http_connection_manager", "typedConfig": {
       "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
       "statPrefix": "outbound_0.0.0.0_80", "rds": {"routeConfigName": "80"},
       "streamIdleTimeout": "0s", "normalizePath": true, "xffNumTrustedHops": 0,
       "httpFilters": [
         {"name": "istio.metadata_exchange", "typedConfig": {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
           "typeUrl": "type.googleapis.com/io.istio.http.peer_metadata.Config", "value": {"upstream_discovery": [{"istio_headers": {}}]}}},
         {"name": "istio.stats", "typedConfig": {"@type": "type.googleapis.com/stats.PluginConfig", "x": {"@type": "y"}}},
         {"name": "envoy.filters.http.router", "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}],
   "unknownNewField": {"a": [1, 2.5e3, -3, "\u00e9\ud83d\ude00"]}}]})";

TEST(JsonWireTest, ReadsIstioShapesAsProtobufDoes) {
  Read fast = Fast(kListener);
  ASSERT_TRUE(fast.taken) << fast.declined_near;
  ASSERT_EQ(fast.response.resources_size(), 1);
  EXPECT_EQ(fast.unknown_types, (std::vector<std::string>{"type.googleapis.com/udpa.type.v1.TypedStruct",
                                                        "type.googleapis.com/stats.PluginConfig"}));
  ExpectSameAsProtobuf(kListener, "listener");
}

TEST(JsonWireTest, TheComparisonSeesADifferenceInsideAnAny) {
  // The check above is only as good as the differencer: it must look inside Any's bytes.
  Read fast = Fast(kListener);
  ASSERT_TRUE(fast.taken);
  DecodeReport report;
  std::string changed(kListener);
  changed.replace(changed.find("\"portValue\": 80"), 15, "\"portValue\": 81");
  auto other = ParseDiscoveryResponseWithProtobuf(changed, &report);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(google::protobuf::util::MessageDifferencer::Equals(fast.response, *other));
}

TEST(JsonWireTest, ScalarsDurationsAndWrappers) {
  for (const char* json : {
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c",
               "connectTimeout": "-1.000000007s", "perConnectionBufferLimitBytes": 4294967295,
               "lbPolicy": 3, "type": "STRICT_DNS", "dnsRefreshRate": "315576000000s",
               "commonLbConfig": {"healthyPanicThreshold": {"value": 1e2}},
               "circuitBreakers": {"thresholds": [{"maxConnections": "17", "priority": "HIGH"}]},
               "outlierDetection": {"consecutive5xx": 0, "interval": "0.000000001s"},
               "loadAssignment": {"clusterName": "c", "endpoints": [{"lbEndpoints": [{"loadBalancingWeight": 3,
                 "endpoint": {"address": {"socketAddress": {"address": "10.0.0.1", "portValue": "8080"}}}}]}]}}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "r",
               "validateClusters": false, "virtualHosts": [{"name": "v", "domains": ["*"], "routes": [
               {"match": {"prefix": "/", "caseSensitive": true, "runtimeFraction": {"defaultValue": {"numerator": 5}}},
                "route": {"cluster": "c", "timeout": "0s", "retryPolicy": {"numRetries": 2, "retryOn": "5xx"},
                          "maxStreamDuration": {"maxStreamDuration": "1.5s"}},
                "typedPerFilterConfig": {"envoy.filters.http.fault": {"@type": "type.googleapis.com/google.protobuf.Struct",
                                         "value": {"a": 1}}}}]}]}]})",
       }) {
    Read fast = Fast(json);
    EXPECT_TRUE(fast.taken) << json;
    ExpectSameAsProtobuf(json, json);
  }
}

TEST(JsonWireTest, DeclinesWhatItDoesNotReadExactlyAsProtobuf) {
  for (const char* json : {
           R"({"resources": [{"name": "x", "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "a", "name": "b"}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "type": "EDS", "clusterType": {}}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "lbPolicy": "NO_SUCH"}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "caf)"
           "\xc3\xa9"
           R"("}]})",
           R"({"resources": [{"@type": "example.com/envoy.config.cluster.v3.Cluster"}]})",
           // found by the fuzzer: the careful path's DOM keeps one of the two (and its unknown types)
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "x": {"a": 1, "a": 2}}]})",
           // found by the fuzzer: an unknown type, then a known one (the careful path's DOM keeps the last)
           R"({"resources": [{"@type": "type.googleapis.com/x.Unknown", "name": "a",
               "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"}]})",
           // found by the fuzzer: in an ignored field, an unknown Any's "@type" given twice (the
           // careful path records the second)
           R"({"x": [{"@type": "type.googleapis.com/x.A", "@type": "type.googleapis.com/x.B", "type": "EDS"}]})",
           // found by the fuzzer: a Struct's key given twice
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
               "endpoints": [{"metadata": {"filterMetadata": {"a": {"name": "1", "name": "2"}}}}]}]})",
           // found by the fuzzer: a number no double holds, in an ignored field
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "x": 1E048576}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "x": 1e-400}]})",
           // found by the fuzzer: protobuf refuses an empty key, even of a field it ignores
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "": 1}]})",
           // found by the fuzzer: known by its last segment, so protobuf resolves (and refuses) it
           R"({"resources": [{"@type": "type.googleapis.com/x.Ytype.googleapis.com/envoy.config.cluster.v3.Cluster"}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "connectTimeout": "1m"}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "perConnectionBufferLimitBytes": 4294967296}]})",
           R"({"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "perConnectionBufferLimitBytes": 1.0}]})",
           R"({"resources": [], "nonce": "n",})",
           R"({"resources": [null]})",
           R"({"versionInfo": 1})",
           R"({"resources": [{"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2020-01-01T00:00:00Z"}]})",
       }) {
    EXPECT_FALSE(Fast(json).taken) << json;
    ExpectSameAsProtobuf(json, json);  // and the decoder's answer is protobuf's, whatever it is
  }
}

// Every real document in the corpus (Istio, Envoy Gateway, Consul dumps) and the checked-in cases:
// the fast reader takes the xds-v3-file documents, and agrees with protobuf's parser on each.
TEST(JsonWireTest, TheCorpusIsReadAsProtobufReadsIt) {
  std::vector<fs::path> files = JsonFilesUnder(AGENT_XDS_CORPUS_DIR);
  for (const char* dir : {AGENT_EXAMPLES_DIR "/xds", AGENT_TESTDATA_DIR "/translate"}) {
    std::vector<fs::path> more = JsonFilesUnder(dir);
    files.insert(files.end(), more.begin(), more.end());
  }
  if (files.empty()) GTEST_SKIP() << "no corpus";
  int responses = 0;
  int taken = 0;
  for (const fs::path& path : files) {
    const std::string json = ReadFile(path);
    DecodeReport report;
    if (!ParseDiscoveryResponseWithProtobuf(json, &report).ok()) continue;  // not a DiscoveryResponse
    ++responses;
    Read fast = Fast(json);
    if (fast.taken) ++taken;
    EXPECT_TRUE(fast.taken) << path << " declined near: " << fast.declined_near;
    ExpectSameAsProtobuf(json, path.string());
  }
  EXPECT_GT(responses, 0);
  EXPECT_EQ(taken, responses) << "documents the fast reader declined: the file path would be slow on them";
}

}  // namespace
}  // namespace agent::xds
