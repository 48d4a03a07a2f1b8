// Synthetic Istio-shaped xDS for N services (reference/xds-istio.md §4): per service an
// `outbound|P||fqdn` EDS cluster (Istio's defaults: 10 s connect timeout, circuit breakers, EDS over
// ADS), a ClusterLoadAssignment with 3 endpoints, a virtual host in port P's RouteConfiguration
// with Istio's default route and retry policy, and the `0.0.0.0_P` listener with an HTTP connection
// manager on RDS "P". Ports rotate over 80, 8080 and 9080. Written as four DiscoveryResponse JSON
// files, which the file provisioner reads and tests/xds/ads_file_server pushes over ADS.
//   xds_scale_gen N OUTDIR [--endpoint-seed S]   (S shifts every endpoint address: a changed EDS)
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

constexpr int kPorts[] = {80, 8080, 9080};

std::string Fqdn(int i) { return "svc-" + std::to_string(i) + ".ns-" + std::to_string(i % 50) + ".svc.cluster.local"; }
int Port(int i) { return kPorts[i % 3]; }
std::string Cluster(int i) { return "outbound|" + std::to_string(Port(i)) + "||" + Fqdn(i); }
std::string Ip(int i, int j, int seed) {
  const int n = i * 3 + j + seed;
  return "10." + std::to_string(64 + (n >> 16) % 64) + "." + std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255);
}

void Write(const std::string& path, const std::string& type, const std::string& resources) {
  std::ofstream out(path);
  out << "{\"versionInfo\":\"gen\",\"typeUrl\":\"" << type << "\",\"resources\":[" << resources << "]}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5) {
    std::cerr << "usage: xds_scale_gen N OUTDIR [--endpoint-seed S]\n";
    return 2;
  }
  const int n = std::atoi(argv[1]);
  const std::string dir = argv[2];
  const int seed = argc == 5 ? std::atoi(argv[4]) : 0;
  std::filesystem::create_directories(dir);

  std::string clusters, endpoints, routes, listeners;
  for (int i = 0; i < n; ++i) {
    const std::string name = Cluster(i);
    if (i) clusters += ",", endpoints += ",";
    clusters += R"({"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":")" + name +
                R"(","type":"EDS","edsClusterConfig":{"edsConfig":{"ads":{},"initialFetchTimeout":"0s","resourceApiVersion":"V3"},"serviceName":")" +
                name + R"("},"connectTimeout":"10s","lbPolicy":"LEAST_REQUEST","circuitBreakers":{"thresholds":[{"maxConnections":4294967295,"maxPendingRequests":4294967295,"maxRequests":4294967295,"maxRetries":4294967295,"trackRemaining":true}]},"commonLbConfig":{"localityWeightedLbConfig":{}}})";
    endpoints += R"({"@type":"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment","clusterName":")" + name +
                 R"(","endpoints":[{"locality":{"region":"r1","zone":"z1"},"lbEndpoints":[)";
    for (int j = 0; j < 3; ++j) {
      if (j) endpoints += ",";
      endpoints += R"({"endpoint":{"address":{"socketAddress":{"address":")" + Ip(i, j, seed) + R"(","portValue":)" +
                   std::to_string(Port(i)) + R"(}}},"healthStatus":"HEALTHY","loadBalancingWeight":1})";
    }
    endpoints += R"(],"loadBalancingWeight":3}]})";
  }
  // Istio's passthrough for allow_any (outboundTrafficPolicy ALLOW_ANY, the default).
  clusters += std::string(n ? "," : "") +
              R"({"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"PassthroughCluster","type":"ORIGINAL_DST","lbPolicy":"CLUSTER_PROVIDED","connectTimeout":"10s"})";
  for (int p = 0; p < 3; ++p) {
    const std::string port = std::to_string(kPorts[p]);
    if (p) routes += ",", listeners += ",";
    routes += R"({"@type":"type.googleapis.com/envoy.config.route.v3.RouteConfiguration","name":")" + port +
              R"(","validateClusters":false,"ignorePortInHostMatching":true,"virtualHosts":[)";
    bool first = true;
    for (int i = p; i < n; i += 3) {
      const std::string fqdn = Fqdn(i);
      const std::string short_ns = "svc-" + std::to_string(i) + ".ns-" + std::to_string(i % 50);
      routes += std::string(first ? "" : ",") + R"({"name":")" + fqdn + ":" + port + R"(","domains":[")" + fqdn +
                R"(",")" + short_ns + R"(",")" + short_ns + R"(.svc"],"routes":[{"name":"default","match":{"prefix":"/"},"route":{"cluster":")" +
                Cluster(i) +
                R"(","timeout":"0s","retryPolicy":{"retryOn":"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes","numRetries":2,"retryHostPredicate":[{"name":"envoy.retry_host_predicates.previous_hosts"}],"hostSelectionRetryMaxAttempts":"5","retriableStatusCodes":[503]},"maxGrpcTimeout":"0s"},"decorator":{"operation":")" +
                fqdn + ":" + port + R"(/*"}}],"includeRequestAttemptCount":true})";
      first = false;
    }
    routes += std::string(first ? "" : ",") +
              R"({"name":"allow_any","domains":["*"],"routes":[{"name":"allow_any","match":{"prefix":"/"},"route":{"cluster":"PassthroughCluster","timeout":"0s"}}]}]})";
    listeners += R"({"@type":"type.googleapis.com/envoy.config.listener.v3.Listener","name":"0.0.0.0_)" + port +
                 R"(","address":{"socketAddress":{"address":"0.0.0.0","portValue":)" + port +
                 R"(}},"bindToPort":false,"trafficDirection":"OUTBOUND","filterChains":[{"filterChainMatch":{"transportProtocol":"raw_buffer","applicationProtocols":["http/1.1","h2c"]},"filters":[{"name":"envoy.filters.network.http_connection_manager","typedConfig":{"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager","statPrefix":"outbound_0.0.0.0_)" +
                 port + R"(","rds":{"configSource":{"ads":{},"resourceApiVersion":"V3"},"routeConfigName":")" + port +
                 R"("},"httpFilters":[{"name":"envoy.filters.http.router","typedConfig":{"@type":"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]})";
  }
  Write(dir + "/clusters.json", "type.googleapis.com/envoy.config.cluster.v3.Cluster", clusters);
  Write(dir + "/endpoints.json", "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", endpoints);
  Write(dir + "/routes.json", "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", routes);
  Write(dir + "/listeners.json", "type.googleapis.com/envoy.config.listener.v3.Listener", listeners);
  std::cout << n << " services written to " << dir << "\n";
}
