#include "translate/endpoint_translator.h"

#include "absl/strings/str_cat.h"

namespace agent::translate {

using envoy::config::core::v3::HealthStatus;

std::vector<apisix::UpstreamNode> TranslateLoadAssignment(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla,
                                                          const std::string& resource, Diagnostics& skipped) {
  std::vector<apisix::UpstreamNode> nodes;
  for (int l = 0; l < cla.endpoints_size(); ++l) {
    const auto& locality = cla.endpoints(l);
    for (int e = 0; e < locality.lb_endpoints_size(); ++e) {
      const auto& lb = locality.lb_endpoints(e);
      std::string field = absl::StrCat("endpoints[", l, "].lb_endpoints[", e, "]");
      HealthStatus health = lb.health_status();
      if (health == envoy::config::core::v3::UNHEALTHY || health == envoy::config::core::v3::DRAINING ||
          health == envoy::config::core::v3::TIMEOUT) {
        continue;  // Envoy sends no traffic there either; not worth a warning
      }
      if (!lb.has_endpoint() || !lb.endpoint().address().has_socket_address()) {
        skipped.push_back({resource, field, "only socket addresses can be APISIX nodes"});
        continue;
      }
      const auto& socket = lb.endpoint().address().socket_address();
      if (socket.port_specifier_case() != envoy::config::core::v3::SocketAddress::kPortValue ||
          socket.port_value() == 0) {
        skipped.push_back({resource, field, "endpoint without a numeric port"});
        continue;
      }
      // Envoy's validation refuses both; an APISIX node without a host or with a port past 65535
      // fails APISIX's schema and would take the whole upstream with it.
      if (socket.address().empty()) {
        skipped.push_back({resource, field, "endpoint without an address"});
        continue;
      }
      if (socket.port_value() > 65535) {
        skipped.push_back({resource, field, absl::StrCat("endpoint port ", socket.port_value(), " is not 1-65535")});
        continue;
      }
      apisix::UpstreamNode node;
      node.host = socket.address();
      node.port = socket.port_value();
      node.weight = lb.has_load_balancing_weight() ? lb.load_balancing_weight().value() : 1;
      node.priority = -static_cast<int32_t>(locality.priority());
      nodes.push_back(std::move(node));
    }
  }
  return nodes;
}

}  // namespace agent::translate
