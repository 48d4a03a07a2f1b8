#include "translate/cluster_translator.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "translate/endpoint_translator.h"

namespace agent::translate {

using envoy::config::cluster::v3::Cluster;

namespace {

// Envoy's default lb_policy is ROUND_ROBIN (enum value 0), as is APISIX's.
void TranslateLbPolicy(const Cluster& cluster, apisix::Upstream& upstream, const std::string& resource,
                       Diagnostics& skipped) {
  switch (cluster.lb_policy()) {
    case Cluster::ROUND_ROBIN:
      upstream.type = "roundrobin";
      break;
    case Cluster::LEAST_REQUEST:
      upstream.type = "least_conn";
      break;
    case Cluster::RING_HASH:
    case Cluster::MAGLEV:
      // The hash key comes from the route's hash_policy in Envoy; until routes carry it, hash on the
      // client address, which keeps a client on one endpoint as consistent hashing intends.
      upstream.type = "chash";
      upstream.hash_on = "vars";
      upstream.key = "remote_addr";
      break;
    default:
      upstream.type = "roundrobin";
      skipped.push_back({resource, "lb_policy",
                         absl::StrCat(Cluster::LbPolicy_Name(cluster.lb_policy()),
                                      " has no APISIX equivalent; round robin is used")});
      break;
  }
}

// DestinationRule SIMPLE TLS: https, SNI as upstream_host (APISIX sends it as Host too). Client
// certificates come from SDS or files the agent does not read: reported.
void TranslateTransportSocket(const Cluster& cluster, apisix::Upstream& upstream, const std::string& resource,
                              Diagnostics& skipped) {
  if (!cluster.has_transport_socket() || !cluster.transport_socket().has_typed_config()) return;
  envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext tls;
  if (!cluster.transport_socket().typed_config().UnpackTo(&tls)) return;  // raw_buffer and others: plaintext
  upstream.scheme = "https";
  if (!tls.sni().empty()) upstream.upstream_host = tls.sni();
  const auto& common = tls.common_tls_context();
  if (common.tls_certificates_size() > 0 || common.tls_certificate_sds_secret_configs_size() > 0) {
    skipped.push_back({resource, "transport_socket.common_tls_context",
                       "client certificates (mutual TLS) are not sent: they come from SDS or files"});
  }
}

// Outlier detection as APISIX health checks: a passive check counting the same failures, and the
// cheap TCP active check APISIX requires beside it (nodes come back when they answer again).
// APISIX's timeout.connect must be positive (as Envoy's connect_timeout must): a zero or negative
// one is left to APISIX's default, reported, rather than making APISIX refuse the upstream.
void TranslateConnectTimeout(const Cluster& cluster, apisix::Upstream& upstream, const std::string& resource,
                             Diagnostics& skipped) {
  if (!cluster.has_connect_timeout()) return;
  const auto& d = cluster.connect_timeout();
  const double seconds = static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) / 1e9;
  if (seconds > 0) {
    upstream.connect_timeout_seconds = seconds;
  } else {
    skipped.push_back({resource, "connect_timeout", "not positive; APISIX's default connect timeout is used"});
  }
}

void TranslateOutlierDetection(const Cluster& cluster, apisix::Upstream& upstream) {
  if (!cluster.has_outlier_detection()) return;
  const auto& od = cluster.outlier_detection();
  auto clamp = [](uint32_t v) { return std::clamp<uint32_t>(v, 1, 254); };
  const uint32_t consecutive_5xx = od.has_consecutive_5xx() ? od.consecutive_5xx().value() : 5;
  const uint32_t gateway = od.has_consecutive_gateway_failure() ? od.consecutive_gateway_failure().value() : 5;
  const int64_t interval = od.has_interval() ? std::max<int64_t>(1, od.interval().seconds()) : 10;
  nlohmann::json healthy_statuses = nlohmann::json::array();
  for (int s = 200; s < 400; ++s) healthy_statuses.push_back(s);
  upstream.checks = {
      {"active", {{"type", "tcp"},
                  {"healthy", {{"interval", interval}, {"successes", 1}}},
                  {"unhealthy", {{"interval", interval}, {"tcp_failures", clamp(gateway)}, {"timeouts", clamp(gateway)}}}}},
      {"passive", {{"type", "http"},
                   {"healthy", {{"http_statuses", std::move(healthy_statuses)}, {"successes", 1}}},
                   {"unhealthy", {{"http_statuses", {500, 502, 503, 504}},
                                  {"http_failures", clamp(consecutive_5xx)},
                                  {"tcp_failures", clamp(gateway)},
                                  {"timeouts", clamp(gateway)}}}}}};
}

}  // namespace

std::optional<apisix::Upstream> TranslateCluster(const Cluster& cluster, const xds::ResourceSnapshot& snapshot,
                                                 Diagnostics& skipped) {
  const std::string resource = absl::StrCat("Cluster ", cluster.name());
  if (cluster.cluster_discovery_type_case() == Cluster::kClusterType) {
    skipped.push_back({resource, "cluster_type", absl::StrCat("custom cluster type ", cluster.cluster_type().name(),
                                                              " cannot be expressed in APISIX")});
    return std::nullopt;
  }

  if (cluster.type() == Cluster::ORIGINAL_DST) {
    skipped.push_back({resource, "type", "ORIGINAL_DST clusters are reached through the original destination"});
    return std::nullopt;
  }
  switch (cluster.type()) {
    case Cluster::STATIC:
    case Cluster::STRICT_DNS:
    case Cluster::LOGICAL_DNS:
    case Cluster::EDS:
      break;
    default:
      skipped.push_back({resource, "type",
                         absl::StrCat(Cluster::DiscoveryType_Name(cluster.type()), " clusters are not translated yet")});
      return std::nullopt;
  }

  apisix::Upstream upstream;
  upstream.name = cluster.name();
  upstream.desc = absl::StrCat("xds cluster ", cluster.name());
  TranslateLbPolicy(cluster, upstream, resource, skipped);
  TranslateTransportSocket(cluster, upstream, resource, skipped);
  TranslateOutlierDetection(cluster, upstream);
  TranslateConnectTimeout(cluster, upstream, resource, skipped);

  switch (cluster.type()) {
    case Cluster::STATIC:
    case Cluster::STRICT_DNS:
    case Cluster::LOGICAL_DNS:
      upstream.nodes = TranslateLoadAssignment(cluster.load_assignment(), resource, skipped);
      break;
    case Cluster::EDS: {
      const std::string& service = xds::EdsServiceName(cluster);
      auto cla = snapshot.cluster_load_assignments.find(service);
      if (cla != snapshot.cluster_load_assignments.end()) {
        upstream.nodes =
            TranslateLoadAssignment(*xds::Unpacked(cla->second), absl::StrCat("ClusterLoadAssignment ", service), skipped);
      }
      // No assignment yet: an upstream without nodes, as Envoy has a cluster without hosts (503).
      break;
    }
    default:
      break;  // excluded above
  }
  return upstream;
}

bool IsOriginalDestination(const Cluster& cluster) {
  return cluster.cluster_discovery_type_case() == Cluster::kType && cluster.type() == Cluster::ORIGINAL_DST;
}

std::optional<apisix::Upstream> TranslateInboundWithoutOriginalDestination(const Cluster& cluster, Diagnostics& skipped) {
  const std::string resource = absl::StrCat("Cluster ", cluster.name());
  uint32_t port = 0;
  std::vector<std::string> parts = absl::StrSplit(cluster.name(), '|');
  if (parts.size() >= 2 && parts[0] == "inbound" && absl::SimpleAtoi(parts[1], &port) && port > 0 && port < 65536) {
    apisix::Upstream upstream;
    upstream.name = cluster.name();
    upstream.desc = absl::StrCat("xds cluster ", cluster.name(), " (the local application)");
    TranslateConnectTimeout(cluster, upstream, resource, skipped);
    upstream.nodes.push_back({"127.0.0.1", port, 1, 0});
    return upstream;
  }
  skipped.push_back({resource, "type",
                     "passes traffic through to the original destination, which needs the original-destination "
                     "module (bundle mode: --original-dst-module) or --original-dst-var; routes to it are dropped "
                     "(any fixed address would be APISIX itself: a loop)"});
  return std::nullopt;
}

std::string LoopingNode(const apisix::Upstream& upstream, const std::vector<uint32_t>& ports) {
  for (const auto& node : upstream.nodes) {
    const bool loopback = absl::StartsWith(node.host, "127.") || node.host == "::1" || node.host == "localhost" ||
                          node.host == "0.0.0.0" || node.host == "::";
    if (loopback && std::find(ports.begin(), ports.end(), node.port) != ports.end()) {
      return absl::StrCat(node.host, ":", node.port);
    }
  }
  return "";
}

}  // namespace agent::translate
