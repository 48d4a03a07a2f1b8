#pragma once

#include <string>
#include <vector>

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// What a listener's HTTP connection managers route with: RDS names to subscribe to, and route
// configurations carried inline (named "<listener>/inline" when unnamed, for stable IDs).
struct ListenerRoutes {
  std::vector<std::string> rds_names;
  std::vector<envoy::config::route::v3::RouteConfiguration> inline_configs;
};

ListenerRoutes ExtractListenerRoutes(const envoy::config::listener::v3::Listener& listener, Diagnostics& skipped);

}  // namespace agent::translate
