#include "translate/translator.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/stable_hash.h"
#include "absl/strings/str_join.h"
#include "translate/match_translator.h"
#include "translate/cluster_translator.h"
#include "translate/endpoint_translator.h"
#include "translate/listener_binding.h"
#include "translate/listener_translator.h"
#include "translate/route_translator.h"
#include "translate/tcp_translator.h"
#include "translate/upstream_policy_translator.h"

namespace agent::translate {

namespace {

// Without original destinations every inbound route configuration matches every inbound
// connection: with more than one, whichever APISIX tries first takes every port. Said once.
void ReportInboundShadowing(const std::map<std::string, std::vector<ChainDestination>>& users, Diagnostics& skipped) {
  std::vector<std::string> inbound;
  for (const auto& [config, destinations] : users) {
    for (const auto& d : destinations) {
      if (d.inbound) {
        inbound.push_back(absl::StrCat(config, " (", d.ToString(), ")"));
        break;
      }
    }
  }
  if (inbound.size() < 2) return;
  skipped.push_back({"inbound listeners", "route configurations",
                     absl::StrCat(absl::StrJoin(inbound, ", "),
                                  " share APISIX's inbound port without original destinations: their routes shadow "
                                  "each other; the original-destination module (--original-dst-module) binds each to "
                                  "its port")});
}

// Catch-all tcp_proxy chains (virtualOutbound's PassthroughCluster or BlackHoleCluster,
// virtualInbound's InboundPassthroughCluster) carry HTTP too: a lowest-priority route per chain,
// bound to the ports no other listener claims, unless an HTTP chain already covers them.
void TranslateCatchAlls(const std::vector<CatchAllChain>& catch_alls,
                        const std::map<std::string, std::vector<ChainDestination>>& users,
                        const std::vector<RouteUse>& uses, const UpstreamIndex& upstreams,
                        const TranslateOptions& options, const BindingPorts& ports, apisix::IdAllocator& ids,
                        Translation& out) {
  std::set<ChainDestination> covered;
  for (const auto& [config, destinations] : users) covered.insert(destinations.begin(), destinations.end());
  for (const CatchAllChain& chain : catch_alls) {
    const std::string resource = absl::StrCat("Listener ", chain.listener, ", filter chain ", chain.chain);
    if (!covered.insert(chain.where).second) continue;  // an HTTP chain of the same destination routes it
    auto ref = upstreams.find(chain.cluster);
    if (ref == upstreams.end() || !ref->second.unusable.empty()) {
      out.skipped.push_back({resource, "tcp_proxy.cluster",
                             absl::StrCat("cluster ", chain.cluster, " is not translated; no catch-all route")});
      continue;
    }
    apisix::Route route;
    const std::string owner = absl::StrCat("catch-all:", chain.listener, "/", chain.chain, "/", chain.where.ToString());
    route.id = ids.Assign(absl::StrCat("route:", owner));
    route.name = absl::StrCat(chain.listener, "/", chain.chain.empty() ? "catch-all" : chain.chain);
    route.desc = absl::StrCat("xds listener ", chain.listener, ", catch-all chain to ", chain.cluster, " for ",
                              chain.where.ToString());
    route.uris = {"/*"};
    route.priority = 0;  // below every route of a route configuration (their priorities start at 1)
    route.vars = BindingVars({chain.where}, owner, uses, options.original_dst_var, ports, resource, out.skipped);
    if (!ref->second.original_destination_location.empty()) {
      route.plugins["serverless-pre-function"] = OriginalDestinationPlugin(ref->second.original_destination_location);
    } else {
      route.upstream_id = ref->second.id;  // BlackHoleCluster: no endpoints, APISIX answers 502
    }
    out.routes.push_back(std::move(route));
  }
}

}  // namespace

// What the rest of the translation needs of a route configuration: the clusters it routes and
// mirrors to (only mirrors depend on nodes) and the policies its routes ask of them.
Translator::RouteConfigFacts Translator::FactsOf(const envoy::config::route::v3::RouteConfiguration& config) {
  Translator::RouteConfigFacts facts;
  for (const auto& vhost : config.virtual_hosts()) {
    for (const auto& route : vhost.routes()) {
      if (!route.has_route()) continue;
      if (!route.route().cluster().empty()) facts.routed.push_back(route.route().cluster());
      for (const auto& c : route.route().weighted_clusters().clusters()) facts.routed.push_back(c.name());
      for (const auto& m : route.route().request_mirror_policies()) facts.mirrored.push_back(m.cluster());
    }
  }
  for (auto* names : {&facts.routed, &facts.mirrored}) {
    std::sort(names->begin(), names->end());
    names->erase(std::unique(names->begin(), names->end()), names->end());
    names->shrink_to_fit();
  }
  facts.policies = CollectRoutePolicies(config);
  return facts;
}

Translation Translate(const xds::ResourceSnapshot& snapshot, const TranslateOptions& options) {
  return Translator(options).Translate(snapshot);
}

Translation Translator::Translate(const xds::ResourceSnapshot& snapshot) {
  const TranslateOptions& options = options_;
  Translation out;
  apisix::IdAllocator ids;  // one allocator for every object: IDs never collide across kinds either
  reused_ = 0;
  decoded_ = 0;

  UpstreamIndex upstreams;
  upstreams.reserve(snapshot.clusters.size());
  std::map<std::string, CachedUpstream> next_upstreams;
  out.upstreams.reserve(snapshot.clusters.size());
  const bool original_destinations = !options.original_dst_var.empty();
  std::vector<uint32_t> capture_ports;
  for (uint32_t port : {options.outbound_capture_port, options.inbound_capture_port}) {
    if (port != 0) capture_ports.push_back(port);
  }
  capture_ports.insert(capture_ports.end(), options.internal_ports.begin(), options.internal_ports.end());
  // Clusters are decoded only where the cache cannot answer from their bytes' hash: at a mesh's
  // scale, an update changes a few of thousands.
  for (const auto& [name, packed] : snapshot.clusters) {  // std::map: sorted, so IDs are set-determined
    auto cached = upstreams_.find(name);
    const bool known = cached != upstreams_.end() && cached->second.cluster_hash == packed.hash();
    std::optional<xds::Unpacked<envoy::config::cluster::v3::Cluster>> cluster;
    CachedUpstream entry;
    entry.cluster_hash = packed.hash();
    if (known) {
      entry.facts = cached->second.facts;
    } else {
      cluster.emplace(packed);
      ++decoded_;
      entry.facts.original_destination = IsOriginalDestination(**cluster);
      if ((*cluster)->type() == envoy::config::cluster::v3::Cluster::EDS) {
        entry.facts.eds_service = xds::EdsServiceName(**cluster);
      }
    }
    if (original_destinations && entry.facts.original_destination) {
      // Where the connection was going: no upstream object, the routes hand requests to nginx.
      UpstreamRef ref;
      ref.original_destination_location = options.passthrough_location;
      upstreams.emplace(name, std::move(ref));
      next_upstreams.emplace_hint(next_upstreams.end(), name, std::move(entry));  // in order
      continue;
    }
    uint64_t key = packed.hash();
    if (!entry.facts.eds_service.empty()) {
      auto cla = snapshot.cluster_load_assignments.find(entry.facts.eds_service);
      if (cla != snapshot.cluster_load_assignments.end()) key = key * 31 + cla->second.hash();
    }
    if (known && cached->second.translated && cached->second.key == key) {
      entry = std::move(cached->second);
      ++reused_;
    } else {
      if (!cluster) {
        cluster.emplace(packed);
        ++decoded_;
      }
      entry.key = key;
      entry.translated = true;
      entry.upstream = entry.facts.original_destination
                           ? TranslateInboundWithoutOriginalDestination(**cluster, entry.skipped)
                           : TranslateCluster(**cluster, snapshot, entry.skipped);
      if (entry.upstream) {
        if (std::string loop = LoopingNode(*entry.upstream, capture_ports); !loop.empty()) {
          entry.skipped.push_back({absl::StrCat("Cluster ", name), "endpoints",
                                   absl::StrCat(loop, " is APISIX's own capture port: a loop by construction; the "
                                                      "cluster and the routes to it are dropped")});
          entry.upstream.reset();
        }
      }
    }
    out.skipped.insert(out.skipped.end(), entry.skipped.begin(), entry.skipped.end());
    std::optional<apisix::Upstream> upstream = entry.upstream;
    next_upstreams.emplace_hint(next_upstreams.end(), name, std::move(entry));  // in order
    if (!upstream) {
      UpstreamRef ref;
      ref.unusable = "not translated (see the cluster's own finding)";
      upstreams.emplace(name, std::move(ref));
      continue;
    }
    upstream->id = ids.Assign(absl::StrCat("upstream:", name));
    std::string mirror_host;
    if (!upstream->nodes.empty()) {
      const auto& node = upstream->nodes.front();
      mirror_host = absl::StrCat("http://", node.host.find(':') != std::string::npos ? "[" + node.host + "]" : node.host,
                                 ":", node.port);
    }
    UpstreamRef ref;
    ref.id = upstream->id;
    ref.connect_timeout_seconds = upstream->connect_timeout_seconds;
    ref.mirror_host = std::move(mirror_host);
    upstreams.emplace(name, std::move(ref));
    out.upstreams.push_back(*std::move(upstream));
  }

  // Which filter chains (direction, original destination) use which route configuration.
  std::vector<RouteUse> uses;
  std::vector<CatchAllChain> catch_alls;
  std::vector<TcpChain> tcp_chains;
  std::vector<envoy::config::route::v3::RouteConfiguration> inline_configs;
  for (const auto& [name, listener] : snapshot.listeners) {
    ListenerRoutes routes = ExtractListenerRoutes(*xds::Unpacked(listener), out.skipped);
    for (auto& use : routes.uses) uses.push_back(std::move(use));
    for (auto& chain : routes.catch_alls) catch_alls.push_back(std::move(chain));
    for (auto& chain : routes.tcp_chains) tcp_chains.push_back(std::move(chain));
    for (auto& config : routes.inline_configs) inline_configs.push_back(std::move(config));
  }
  std::map<std::string, std::vector<ChainDestination>> users;
  for (const RouteUse& use : uses) {
    auto& where = users[use.route_config];
    if (std::find(where.begin(), where.end(), use.where) == where.end()) where.push_back(use.where);
  }
  BindingPorts ports;
  if (options.bind_direction && !options.http_outbound_socket.empty()) {
    ports = {"server_addr", absl::StrCat("unix:", options.http_outbound_socket),
             absl::StrCat("unix:", options.http_inbound_socket)};
  } else if (options.bind_direction) {
    ports = {"server_port", absl::StrCat(options.outbound_capture_port), absl::StrCat(options.inbound_capture_port)};
  }
  if (!original_destinations) ReportInboundShadowing(users, out.skipped);
  std::vector<const std::vector<RoutePolicy>*> policies;  // each translated configuration's
  std::map<std::string, CachedRoutes> next_routes;
  std::set<std::string> mirrored_clusters;
  // A configuration is decoded only where the cache cannot answer from its bytes' hash.
  auto translate = [&](const std::string& name, const xds::Packed<envoy::config::route::v3::RouteConfiguration>& packed) {
    std::vector<apisix::RouteVar> binding;
    if (original_destinations || options.bind_direction) {
      binding = BindingVars(users[name], name, uses, options.original_dst_var, ports,
                            absl::StrCat("RouteConfiguration ", name), out.skipped);
    }
    auto cached = routes_.find(name);
    const bool known = cached != routes_.end() && cached->second.config_hash == packed.hash();
    std::optional<xds::Unpacked<envoy::config::route::v3::RouteConfiguration>> config;
    RouteConfigFacts facts;
    if (known) {
      facts = std::move(cached->second.facts);
    } else {
      config.emplace(packed);
      ++decoded_;
      facts = FactsOf(**config);
    }
    // The routes depend on the configuration, the upstreams it names and the listener binding.
    uint64_t key = packed.hash();
    mirrored_clusters.insert(facts.mirrored.begin(), facts.mirrored.end());
    for (const std::string& cluster : facts.routed) {
      auto ref = upstreams.find(cluster);
      key = key * 31 + (ref == upstreams.end() ? 0
                                               : StableHash64(absl::StrCat(ref->second.id, "|",
                                                                           ref->second.connect_timeout_seconds.value_or(-1))));
    }
    for (const std::string& cluster : facts.mirrored) {
      auto ref = upstreams.find(cluster);
      key = key * 31 + (ref == upstreams.end() ? 1 : StableHash64(ref->second.mirror_host));
    }
    for (const auto& v : binding) key = key * 31 + StableHash64(absl::StrCat(v.var, v.op, v.value, v.negate));
    CachedRoutes entry;
    bool hit = false;
    if (known && cached->second.key == key) {
      // Reusable if every ID comes out the same (a collision elsewhere could shift one).
      hit = true;
      for (size_t i = 0; i < cached->second.routes.size() && hit; ++i) {
        hit = ids.Assign(cached->second.id_names[i]) == cached->second.routes[i].id;
      }
      if (hit) entry = std::move(cached->second);
    }
    if (hit) {
      ++reused_;
    } else {
      if (!config) {
        config.emplace(packed);
        ++decoded_;
      }
      entry = CachedRoutes{};
      entry.key = key;
      TranslateRouteConfiguration(**config, upstreams, ids, entry.routes, entry.skipped, &entry.id_names);
      for (auto& route : entry.routes) route.vars.insert(route.vars.end(), binding.begin(), binding.end());
    }
    entry.config_hash = packed.hash();
    entry.facts = std::move(facts);
    out.routes.insert(out.routes.end(), entry.routes.begin(), entry.routes.end());
    out.skipped.insert(out.skipped.end(), entry.skipped.begin(), entry.skipped.end());
    CachedRoutes& kept = next_routes[name] = std::move(entry);
    policies.push_back(&kept.facts.policies);
  };
  for (const auto& [name, config] : snapshot.route_configurations) translate(name, config);
  std::set<std::string> translated;
  for (const auto& [name, config] : snapshot.route_configurations) translated.insert(name);
  for (const auto& config : inline_configs) {
    // Listeners repeat one inline configuration in several filter chains; translate it once.
    if (translated.insert(config.name()).second) translate(config.name(), config);
  }
  if (original_destinations) {
    TranslateCatchAlls(catch_alls, users, uses, upstreams, options, ports, ids, out);
  } else {
    for (const CatchAllChain& chain : catch_alls) {
      out.skipped.push_back({absl::StrCat("Listener ", chain.listener), absl::StrCat("filter_chains[", chain.chain, "]"),
                             absl::StrCat("the catch-all for ", chain.where.ToString(),
                                          " needs original destinations (the original-destination module)")});
    }
  }
  std::map<std::string, std::string> upstream_ids;
  for (const auto& [cluster, ref] : upstreams) {
    if (!ref.id.empty()) upstream_ids.emplace(cluster, ref.id);
  }
  ApplyRoutePoliciesToUpstreams(policies, upstream_ids, out.upstreams, out.skipped);
  for (const apisix::Upstream& upstream : out.upstreams) {  // the clusters' (stream upstreams come next)
    auto entry = next_upstreams.find(upstream.name);
    if (entry == next_upstreams.end()) continue;
    entry->second.id = upstream.id;
    entry->second.retries = upstream.retries;
    entry->second.hash_on = upstream.hash_on;
    entry->second.key_on = upstream.key;
  }
  tcp_clusters_.clear();
  if (options.mesh_front && original_destinations) {
    std::map<std::string, const apisix::Upstream*> cluster_upstreams;
    std::map<std::string, const apisix::Upstream*> by_id;
    for (const apisix::Upstream& u : out.upstreams) by_id.emplace(u.id, &u);
    for (const auto& [cluster, id] : upstream_ids) {
      if (auto it = by_id.find(id); it != by_id.end()) cluster_upstreams.emplace(cluster, it->second);
    }
    TcpTranslation tcp = TranslateTcp(tcp_chains, uses, upstreams, cluster_upstreams, ids, out.skipped);
    tcp_clusters_.insert(tcp.clusters.begin(), tcp.clusters.end());
    out.stream_routes = std::move(tcp.stream_routes);
    for (auto& u : tcp.upstreams) out.upstreams.push_back(std::move(u));
    out.front_table = RenderFrontTable(tcp.front);
  }
  upstreams_ = std::move(next_upstreams);
  routes_ = std::move(next_routes);
  // What the endpoint fast path needs: the final upstreams, who uses which assignment, who is mirrored.
  translated_ = true;
  eds_users_.clear();
  for (const auto& [name, entry] : upstreams_) {
    if (!entry.facts.eds_service.empty()) eds_users_.emplace(entry.facts.eds_service, name);
  }
  mirrored_clusters_ = std::move(mirrored_clusters);
  for (const apisix::Route& route : out.routes) {
    for (const auto& [plugin, conf] : route.plugins.items()) out.plugins_used.insert(plugin);
  }
  return out;
}

std::optional<std::vector<apisix::Upstream>> Translator::TranslateEndpoints(const xds::ResourceSnapshot& snapshot,
                                                                           const std::set<std::string>& changed,
                                                                           Diagnostics& skipped) {
  if (!translated_) return std::nullopt;
  for (const std::string& service : changed) {
    for (auto [it, end] = eds_users_.equal_range(service); it != end; ++it) {
      if (mirrored_clusters_.count(it->second) > 0 || tcp_clusters_.count(it->second) > 0) return std::nullopt;
    }
  }
  std::vector<apisix::Upstream> updated;
  for (const std::string& service : changed) {
    auto cla = snapshot.cluster_load_assignments.find(service);
    for (auto [it, end] = eds_users_.equal_range(service); it != end; ++it) {
      auto entry = upstreams_.find(it->second);
      // A cluster that is not translated: nodes do not matter.
      if (entry == upstreams_.end() || !entry->second.upstream) continue;
      CachedUpstream& cached = entry->second;
      std::vector<apisix::UpstreamNode> nodes;
      if (cla != snapshot.cluster_load_assignments.end()) {
        nodes = TranslateLoadAssignment(*xds::Unpacked(cla->second), absl::StrCat("ClusterLoadAssignment ", service), skipped);
      }
      cached.translated = false;  // the translation is stale (its findings too): the next full call redoes it
      if (nodes == cached.upstream->nodes) continue;
      apisix::Upstream changed_upstream = *cached.upstream;
      changed_upstream.id = cached.id;
      changed_upstream.retries = cached.retries;
      changed_upstream.hash_on = cached.hash_on;
      changed_upstream.key = cached.key_on;
      changed_upstream.nodes = nodes;
      std::vector<uint32_t> own_ports = {options_.outbound_capture_port, options_.inbound_capture_port};
      own_ports.insert(own_ports.end(), options_.internal_ports.begin(), options_.internal_ports.end());
      if (!LoopingNode(changed_upstream, own_ports).empty()) {
        return std::nullopt;  // the full path drops it, with its finding
      }
      cached.upstream->nodes = std::move(nodes);  // what the next fast call compares with
      updated.push_back(std::move(changed_upstream));
    }
  }
  return updated;
}

}  // namespace agent::translate

namespace agent::translate {

void DowngradePluginsTo2x(Translation& translation) {
  for (apisix::Route& route : translation.routes) {
    for (const char* plugin : {"proxy-rewrite", "response-rewrite"}) {
      if (!route.plugins.contains(plugin) || !route.plugins[plugin].contains("headers")) continue;
      const nlohmann::json headers = route.plugins[plugin]["headers"];
      nlohmann::json flat = nlohmann::json::object();
      // Bound to names: iterating items() of a temporary would dangle.
      const nlohmann::json remove = headers.value("remove", nlohmann::json::array());
      const nlohmann::json set = headers.value("set", nlohmann::json::object());
      for (const auto& name : remove) flat[name.get<std::string>()] = "";
      for (const auto& [name, value] : set.items()) flat[name] = value;
      // 2.x cannot append: an added header replaces an existing one.
      if (headers.contains("add") && headers["add"].is_object()) {
        for (const auto& [name, value] : headers["add"].items()) flat[name] = value;
      } else if (headers.contains("add")) {
        for (const auto& line : headers["add"]) {
          std::string text = line.get<std::string>();
          size_t colon = text.find(": ");
          if (colon != std::string::npos) flat[text.substr(0, colon)] = text.substr(colon + 2);
        }
      }
      route.plugins[plugin]["headers"] = std::move(flat);
    }
  }
}

}  // namespace agent::translate
