// xDS resources → APISIX objects. Pure: no I/O, no threads, no logging; the same snapshot always
// yields the same objects, with the same IDs and the same bytes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "translate/diagnostics.h"
#include "translate/upstream_policy_translator.h"
#include "xds/resource_snapshot.h"

namespace agent::translate {

struct Translation {
  std::vector<apisix::Route> routes;
  std::vector<apisix::Upstream> upstreams;
  std::vector<apisix::StreamRoute> stream_routes;  // with `mesh_front`
  // With `mesh_front`: the table nginx-original-dst's mesh_front reads (RenderFrontTable).
  std::string front_table;
  Diagnostics skipped;
  // APISIX plugins the routes use: bundle mode enables exactly these.
  std::set<std::string> plugins_used;
};

struct TranslateOptions {
  // The nginx variable holding a connection's original destination ("ip:port", IPv6 in brackets):
  // our module's `original_dst`, or an operator's own. When set, routes match only connections
  // whose original destination belongs to a listener that uses their route configuration
  // (listener binding, docs/interception.md), and ORIGINAL_DST clusters (Istio's inbound,
  // PassthroughCluster) send traffic to the original destination through `passthrough_location`.
  // Empty = off: stock nginx has no such variable.
  std::string original_dst_var;
  // The nginx named location that proxies to $original_dst (bundle mode renders it).
  std::string passthrough_location = apisix::kPassthroughLocation;
  // APISIX's ports for captured traffic: no upstream may point at either on a loopback address (a
  // loop by construction), and with `bind_direction` inbound listeners' routes match only
  // connections that arrived on the inbound one, outbound ones only the outbound one ($server_port,
  // which stock nginx has: on in bundle mode, where the agent renders those ports).
  uint32_t outbound_capture_port = 9080;
  uint32_t inbound_capture_port = 9081;
  bool bind_direction = false;
  // The mesh front (docs/interception.md): every captured connection enters nginx's stream
  // subsystem, which sends HTTP to APISIX's HTTP routes and the rest to stream routes, the original
  // destination or nowhere. On: tcp_proxy chains become stream routes and the translation carries
  // the front's table. Needs `original_dst_var`.
  bool mesh_front = false;
  // With the mesh front, HTTP reaches APISIX on these unix sockets (behind a PROXY header), not on
  // the capture ports: routes are bound to them ($server_addr is "unix:PATH"). Empty = the ports.
  std::string http_outbound_socket;
  std::string http_inbound_socket;
  // Further loopback ports of the data path (the front's internal hops): no upstream may point at them.
  std::vector<uint32_t> internal_ports;
};

// APISIX 2.x's proxy-rewrite and response-rewrite take headers as one flat map (a value of "" removes
// the header) where 3.x has add/set/remove; this rewrites 3.x shapes for a 2.x data plane.
void DowngradePluginsTo2x(Translation& translation);

// Translates a snapshot, reusing the results of its previous call for inputs that did not change:
// a cluster (with its endpoint assignment) whose bytes are the same keeps its upstream, a route
// configuration whose bytes and referenced upstreams are the same keeps its routes. The output is
// exactly Translate()'s.
class Translator {
 public:
  explicit Translator(TranslateOptions options = {}) : options_(std::move(options)) {}
  Translation Translate(const xds::ResourceSnapshot& snapshot);

  size_t reused() const { return reused_; }  // resources served from the cache by the last call
  // Clusters and route configurations the last call decoded: those whose bytes the cache had not
  // seen (listeners are decoded every call).
  size_t decoded() const { return decoded_; }

  // The fast path of endpoint-only updates (a mesh's most frequent push): `changed` names the
  // ClusterLoadAssignments that differ from the previous call's snapshot. Returns the upstreams
  // whose nodes changed — the previous output with new nodes, everything else (IDs, route
  // policies) kept — in O(changed). Returns nullopt when the change reaches further than nodes
  // (a cluster that routes mirror to: their mirror host follows its first node) or there was no
  // previous Translate(); then a full Translate() is needed.
  std::optional<std::vector<apisix::Upstream>> TranslateEndpoints(const xds::ResourceSnapshot& snapshot,
                                                                  const std::set<std::string>& changed,
                                                                  Diagnostics& skipped);

 private:
  // What a cluster's bytes say that the translation needs before (or without) decoding it.
  struct ClusterFacts {
    bool original_destination = false;
    std::string eds_service;  // EDS: the assignment it takes its endpoints from; empty otherwise
  };
  struct CachedUpstream {
    uint64_t cluster_hash = 0;  // the cluster's bytes, for `facts`
    ClusterFacts facts;
    uint64_t key = 0;  // the cluster's and its assignment's bytes, for `upstream`
    bool translated = false;  // `upstream` is the translation of `key` (the endpoint fast path clears it)
    std::optional<apisix::Upstream> upstream;
    Diagnostics skipped;
    // What the last call output for the cluster beyond `upstream`: its ID and the routes' policies
    // (the endpoint fast path's output is `upstream` with these, not a second copy of it).
    std::string id;
    std::optional<uint32_t> retries;
    std::string hash_on, key_on;
  };
  // What a route configuration's bytes say that the rest of the translation needs.
  struct RouteConfigFacts {
    std::vector<std::string> routed;    // clusters its routes send traffic to (sorted, unique)
    std::vector<std::string> mirrored;  // clusters they mirror to (sorted, unique)
    std::vector<RoutePolicy> policies;
  };
  struct CachedRoutes {
    uint64_t config_hash = 0;  // the configuration's bytes, for `facts`
    RouteConfigFacts facts;
    uint64_t key = 0;  // the bytes, the upstreams it names and its binding, for `routes`
    std::vector<apisix::Route> routes;
    std::vector<std::string> id_names;  // what each route's ID was assigned from
    Diagnostics skipped;
  };
  static RouteConfigFacts FactsOf(const envoy::config::route::v3::RouteConfiguration& config);

  TranslateOptions options_;
  bool translated_ = false;
  std::map<std::string, CachedUpstream> upstreams_;
  std::multimap<std::string, std::string> eds_users_;         // EDS service name → clusters
  std::set<std::string> mirrored_clusters_;
  std::set<std::string> tcp_clusters_;  // clusters whose nodes stream upstreams copy
  std::map<std::string, CachedRoutes> routes_;
  size_t reused_ = 0;
  size_t decoded_ = 0;
};

// Stateless: the same as a fresh Translator.
Translation Translate(const xds::ResourceSnapshot& snapshot, const TranslateOptions& options = {});

}  // namespace agent::translate
