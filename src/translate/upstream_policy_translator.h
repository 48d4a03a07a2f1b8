// Settings Envoy keeps on routes but APISIX keeps on upstreams: retry counts and consistent-hash
// keys. Every route that sends traffic to an upstream contributes; where they disagree the
// upstream gets one value and the disagreement is reported.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// What one route asks of one cluster it sends traffic to: a retry count, a consistent-hash key.
struct RoutePolicy {
  std::string cluster;
  std::optional<uint32_t> retries;
  std::optional<std::string> hash_on;  // with `key`
  std::string key;
};

// The policies of a route configuration's routes (only routes that ask for one): what the
// upstreams need of a configuration, so it need not be kept decoded.
std::vector<RoutePolicy> CollectRoutePolicies(const envoy::config::route::v3::RouteConfiguration& config);

// `policies`: each route configuration's, in translation order. `upstream_ids`: cluster name →
// upstream ID; `upstreams` are updated in place.
void ApplyRoutePoliciesToUpstreams(const std::vector<const std::vector<RoutePolicy>*>& policies,
                                   const std::map<std::string, std::string>& upstream_ids,
                                   std::vector<apisix::Upstream>& upstreams, Diagnostics& skipped);

}  // namespace agent::translate
