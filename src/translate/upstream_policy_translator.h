// Settings Envoy keeps on routes but APISIX keeps on upstreams: retry counts and consistent-hash
// keys. Every route that sends traffic to an upstream contributes; where they disagree the
// upstream gets one value and the disagreement is reported.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// `upstream_ids`: cluster name → upstream ID; `upstreams` are updated in place.
void ApplyRoutePoliciesToUpstreams(const std::vector<const envoy::config::route::v3::RouteConfiguration*>& configs,
                                   const std::map<std::string, std::string>& upstream_ids,
                                   std::vector<apisix::Upstream>& upstreams, Diagnostics& skipped);

}  // namespace agent::translate
