// Per-route HTTP filter configuration (typed_per_filter_config, and the legacy cors fields) as
// APISIX plugins: the fault filter → fault-injection, the CORS filter → cors.
#pragma once

#include <string>

#include "apisix/resources.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// Adds plugins to `out` from the route's filter configs, falling back to the virtual host's.
void TranslateFilterConfigs(const envoy::config::route::v3::Route& route,
                            const envoy::config::route::v3::VirtualHost& vhost, const std::string& resource,
                            apisix::Route& out, Diagnostics& skipped);

// FractionalPercent as APISIX's integer percent (0–100, rounded).
int Percent(const envoy::type::v3::FractionalPercent& fraction);

}  // namespace agent::translate
