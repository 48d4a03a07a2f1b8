// The action side of an Envoy route — where it goes and what happens on the way — as APISIX route
// fields and plugins: cluster / weighted_clusters (traffic-split), timeout, prefix/regex/host
// rewrites and request headers (proxy-rewrite), response headers (response-rewrite), redirect
// (redirect) and direct_response (fault-injection abort).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "apisix/resources.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

struct UpstreamRef {
  std::string id;
  std::optional<double> connect_timeout_seconds;
  std::string mirror_host;  // "http://host:port" of its first node: proxy-mirror needs a concrete address
  // An ORIGINAL_DST cluster: traffic goes where the connection was going, through this nginx
  // named location (no upstream object). Empty for ordinary clusters.
  std::string original_destination_location;
  // Why routes to this cluster cannot be translated (the cluster has no upstream); empty = usable.
  std::string unusable;
};
// Cluster name → its upstream. Looked up once per route and per mirror, never iterated where order
// shows: hashed (cluster names share long prefixes, "outbound|80||…", which a sorted map compares
// again and again).
using UpstreamIndex = absl::flat_hash_map<std::string, UpstreamRef>;

// Header mutations inherited from the virtual host and the route configuration.
struct InheritedHeaders {
  const envoy::config::route::v3::VirtualHost* vhost = nullptr;
  const envoy::config::route::v3::RouteConfiguration* config = nullptr;
};

// The plugin that hands a request to `location` (an nginx named location proxying to the original
// destination): APISIX's serverless-pre-function, in the rewrite phase, with ngx.exec — the
// mechanism APISIX itself uses for its @grpc_pass location.
nlohmann::json OriginalDestinationPlugin(const std::string& location);

// Fills upstream_id, timeout and plugins of `out`. Returns false (the reason in `skipped`) when the
// route cannot be translated without changing what it does; the caller then drops it.
bool TranslateRouteAction(const envoy::config::route::v3::Route& route, const InheritedHeaders& inherited,
                          const UpstreamIndex& upstreams, const std::string& resource, apisix::Route& out,
                          Diagnostics& skipped);

}  // namespace agent::translate
