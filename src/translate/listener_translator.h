#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// Which connections a filter chain serves, in the terms the data path can test: the direction
// (which APISIX capture port the connection arrived on) and its original destination.
struct ChainDestination {
  enum class Family { kAny, kIpv4, kIpv6 };
  bool inbound = false;       // the listener's traffic_direction is INBOUND
  Family family = Family::kAny;
  std::string address;        // one address ("10.96.0.5", "fd00::5"); empty = any of `family`
  uint32_t port = 0;          // 0 = every port without a listener or chain of its own (a catch-all)

  auto operator<=>(const ChainDestination&) const = default;
  std::string ToString() const;  // "outbound 10.96.0.5:80", "inbound *:8080", "inbound IPv4 *:*"
};

// A route configuration (RDS or inline) reached through a filter chain.
struct RouteUse {
  std::string route_config;
  ChainDestination where;
};

// A tcp_proxy chain of a listener that receives redirected traffic (Istio's virtualOutbound and
// virtualInbound catch-alls) without a destination port of its own: it passes connections through
// or drops them. HTTP on those connections is carried by a catch-all route.
struct CatchAllChain {
  std::string listener;
  std::string chain;
  std::string cluster;
  ChainDestination where;
};

// A tcp_proxy filter chain: where its connections go (docs/interception.md, "TCP").
struct TcpChain {
  std::string listener;
  std::string chain;
  ChainDestination where;
  std::string cluster;                                        // or:
  std::vector<std::pair<std::string, uint32_t>> weighted;     // weighted_clusters: name, weight
  std::optional<double> idle_timeout_seconds;                 // unset: Envoy's default (1 h); 0: none
  bool server_names = false;  // matched on SNI (TLS routing), which the front cannot tell apart
};

// What a listener's HTTP connection managers route with: RDS names to subscribe to, route
// configurations carried inline (named "<listener>/inline" when unnamed, for stable IDs), and
// where each route configuration applies.
struct ListenerRoutes {
  std::vector<std::string> rds_names;
  std::vector<envoy::config::route::v3::RouteConfiguration> inline_configs;
  std::vector<RouteUse> uses;
  std::vector<CatchAllChain> catch_alls;
  std::vector<TcpChain> tcp_chains;  // every tcp_proxy chain, the catch-alls included
};

ListenerRoutes ExtractListenerRoutes(const envoy::config::listener::v3::Listener& listener, Diagnostics& skipped);

}  // namespace agent::translate
