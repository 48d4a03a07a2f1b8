// The action side of an Envoy route — where it goes and what happens on the way — as APISIX route
// fields and plugins: cluster / weighted_clusters (traffic-split), timeout, prefix/regex/host
// rewrites and request headers (proxy-rewrite), response headers (response-rewrite), redirect
// (redirect) and direct_response (fault-injection abort).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "apisix/resources.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

struct UpstreamRef {
  std::string id;
  std::optional<double> connect_timeout_seconds;
  std::string mirror_host;  // "http://host:port" of its first node: proxy-mirror needs a concrete address
};
using UpstreamIndex = std::map<std::string, UpstreamRef>;  // cluster name → its upstream

// Header mutations inherited from the virtual host and the route configuration.
struct InheritedHeaders {
  const envoy::config::route::v3::VirtualHost* vhost = nullptr;
  const envoy::config::route::v3::RouteConfiguration* config = nullptr;
};

// Fills upstream_id, timeout and plugins of `out`. Returns false (the reason in `skipped`) when the
// route cannot be translated without changing what it does; the caller then drops it.
bool TranslateRouteAction(const envoy::config::route::v3::Route& route, const InheritedHeaders& inherited,
                          const UpstreamIndex& upstreams, const std::string& resource, apisix::Route& out,
                          Diagnostics& skipped);

}  // namespace agent::translate
