#include "translate/translator.h"

#include <set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "common/stable_hash.h"
#include "absl/strings/str_join.h"
#include "translate/match_translator.h"
#include "translate/cluster_translator.h"
#include "translate/endpoint_translator.h"
#include "translate/listener_translator.h"
#include "translate/route_translator.h"
#include "translate/upstream_policy_translator.h"

namespace agent::translate {

namespace {

// A var matching the original destinations of the listeners that use a route configuration.
std::optional<apisix::RouteVar> ListenerBinding(const std::vector<std::pair<std::string, uint32_t>>& listeners,
                                                const std::string& var) {
  if (listeners.empty()) return std::nullopt;
  std::vector<std::string> alternatives;
  std::set<std::pair<std::string, uint32_t>> seen;
  for (const auto& [address, port] : listeners) {
    if (!seen.insert({address, port}).second) continue;
    const bool wildcard = address.empty() || address == "0.0.0.0" || address == "::";
    alternatives.push_back(wildcard ? absl::StrCat(".*:", port) : RegexEscape(absl::StrCat(address, ":", port)));
  }
  if (alternatives.size() == 1 && listeners[0].first != "0.0.0.0" && listeners[0].first != "::" &&
      !listeners[0].first.empty()) {
    return apisix::RouteVar{var, "==", absl::StrCat(listeners[0].first, ":", listeners[0].second), false};
  }
  return apisix::RouteVar{var, "~~", absl::StrCat("^(?:", absl::StrJoin(alternatives, "|"), ")$"), false};
}

// Deterministic bytes (map fields sorted), hashed: equal messages, equal keys.
uint64_t HashMessage(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return StableHash64(bytes);
}

const envoy::config::endpoint::v3::ClusterLoadAssignment* AssignmentOf(const envoy::config::cluster::v3::Cluster& cluster,
                                                                       const xds::ResourceSnapshot& snapshot) {
  if (cluster.type() != envoy::config::cluster::v3::Cluster::EDS) return nullptr;
  auto it = snapshot.cluster_load_assignments.find(xds::EdsServiceName(cluster));
  return it == snapshot.cluster_load_assignments.end() ? nullptr : &it->second;
}

// Clusters the routes send traffic to, and clusters they mirror to (only those depend on nodes).
std::pair<std::set<std::string>, std::set<std::string>> ReferencedClusters(
    const envoy::config::route::v3::RouteConfiguration& config) {
  std::set<std::string> clusters, mirrors;
  for (const auto& vhost : config.virtual_hosts()) {
    for (const auto& route : vhost.routes()) {
      if (!route.has_route()) continue;
      if (!route.route().cluster().empty()) clusters.insert(route.route().cluster());
      for (const auto& c : route.route().weighted_clusters().clusters()) clusters.insert(c.name());
      for (const auto& m : route.route().request_mirror_policies()) mirrors.insert(m.cluster());
    }
  }
  return {clusters, mirrors};
}

}  // namespace

Translation Translate(const xds::ResourceSnapshot& snapshot, const TranslateOptions& options) {
  return Translator(options).Translate(snapshot);
}

Translation Translator::Translate(const xds::ResourceSnapshot& snapshot) {
  const TranslateOptions& options = options_;
  Translation out;
  apisix::IdAllocator ids;  // one allocator for every object: IDs never collide across kinds either
  reused_ = 0;

  UpstreamIndex upstreams;
  std::map<std::string, CachedUpstream> next_upstreams;
  for (const auto& [name, cluster] : snapshot.clusters) {  // std::map: sorted, so IDs are set-determined
    uint64_t key = HashMessage(cluster);
    if (const auto* cla = AssignmentOf(cluster, snapshot)) key = key * 31 + HashMessage(*cla);
    CachedUpstream entry;
    if (auto cached = upstreams_.find(name); cached != upstreams_.end() && cached->second.key == key) {
      entry = std::move(cached->second);
      ++reused_;
    } else {
      entry.key = key;
      entry.upstream = TranslateCluster(cluster, snapshot, entry.skipped);
    }
    out.skipped.insert(out.skipped.end(), entry.skipped.begin(), entry.skipped.end());
    std::optional<apisix::Upstream> upstream = entry.upstream;
    next_upstreams.emplace(name, std::move(entry));
    if (!upstream) continue;
    upstream->id = ids.Assign(absl::StrCat("upstream:", name));
    std::string mirror_host;
    if (!upstream->nodes.empty()) {
      const auto& node = upstream->nodes.front();
      mirror_host = absl::StrCat("http://", node.host.find(':') != std::string::npos ? "[" + node.host + "]" : node.host,
                                 ":", node.port);
    }
    upstreams.emplace(name, UpstreamRef{upstream->id, upstream->connect_timeout_seconds, mirror_host});
    out.upstreams.push_back(*std::move(upstream));
  }

  // Which listeners (address, port) use which route configuration, RDS or inline.
  std::map<std::string, std::vector<std::pair<std::string, uint32_t>>> users;
  std::vector<envoy::config::route::v3::RouteConfiguration> inline_configs;
  for (const auto& [name, listener] : snapshot.listeners) {
    ListenerRoutes routes = ExtractListenerRoutes(listener, out.skipped);
    const auto& socket = listener.address().socket_address();
    std::pair<std::string, uint32_t> where{socket.address(), socket.port_value()};
    for (const auto& rds : routes.rds_names) users[rds].push_back(where);
    for (auto& config : routes.inline_configs) {
      users[config.name()].push_back(where);
      inline_configs.push_back(std::move(config));
    }
  }
  std::vector<const envoy::config::route::v3::RouteConfiguration*> translated_configs;
  std::map<std::string, CachedRoutes> next_routes;
  std::set<std::string> mirrored_clusters;
  auto translate = [&](const envoy::config::route::v3::RouteConfiguration& config) {
    translated_configs.push_back(&config);
    std::optional<apisix::RouteVar> binding;
    if (!options.original_dst_var.empty()) binding = ListenerBinding(users[config.name()], options.original_dst_var);
    // The routes depend on the configuration, the upstreams it names and the listener binding.
    uint64_t key = HashMessage(config);
    const auto [routed, mirrored] = ReferencedClusters(config);
    mirrored_clusters.insert(mirrored.begin(), mirrored.end());
    for (const std::string& cluster : routed) {
      auto ref = upstreams.find(cluster);
      key = key * 31 + (ref == upstreams.end() ? 0
                                               : StableHash64(absl::StrCat(ref->second.id, "|",
                                                                           ref->second.connect_timeout_seconds.value_or(-1))));
    }
    for (const std::string& cluster : mirrored) {
      auto ref = upstreams.find(cluster);
      key = key * 31 + (ref == upstreams.end() ? 1 : StableHash64(ref->second.mirror_host));
    }
    if (binding) key = key * 31 + StableHash64(binding->value);
    CachedRoutes entry;
    bool hit = false;
    if (auto cached = routes_.find(config.name()); cached != routes_.end() && cached->second.key == key) {
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
      entry = CachedRoutes{};
      entry.key = key;
      TranslateRouteConfiguration(config, upstreams, ids, entry.routes, entry.skipped, &entry.id_names);
      if (binding) {
        for (auto& route : entry.routes) route.vars.push_back(*binding);
      }
    }
    out.routes.insert(out.routes.end(), entry.routes.begin(), entry.routes.end());
    out.skipped.insert(out.skipped.end(), entry.skipped.begin(), entry.skipped.end());
    next_routes[config.name()] = std::move(entry);
  };
  for (const auto& [name, config] : snapshot.route_configurations) translate(config);
  std::set<std::string> translated;
  for (const auto& [name, config] : snapshot.route_configurations) translated.insert(name);
  for (const auto& config : inline_configs) {
    // Listeners repeat one inline configuration in several filter chains; translate it once.
    if (translated.insert(config.name()).second) translate(config);
  }
  std::map<std::string, std::string> upstream_ids;
  for (const auto& [cluster, ref] : upstreams) upstream_ids.emplace(cluster, ref.id);
  ApplyRoutePoliciesToUpstreams(translated_configs, upstream_ids, out.upstreams, out.skipped);
  upstreams_ = std::move(next_upstreams);
  routes_ = std::move(next_routes);
  // What the endpoint fast path needs: the final upstreams, who uses which assignment, who is mirrored.
  translated_ = true;
  output_upstreams_.clear();
  for (const apisix::Upstream& upstream : out.upstreams) output_upstreams_.emplace(upstream.name, upstream);
  eds_users_.clear();
  for (const auto& [name, cluster] : snapshot.clusters) {
    if (cluster.type() == envoy::config::cluster::v3::Cluster::EDS) eds_users_.emplace(xds::EdsServiceName(cluster), name);
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
      if (mirrored_clusters_.count(it->second) > 0) return std::nullopt;
    }
  }
  std::vector<apisix::Upstream> updated;
  for (const std::string& service : changed) {
    auto cla = snapshot.cluster_load_assignments.find(service);
    for (auto [it, end] = eds_users_.equal_range(service); it != end; ++it) {
      auto upstream = output_upstreams_.find(it->second);
      if (upstream == output_upstreams_.end()) continue;  // a cluster that is not translated: nodes do not matter
      std::vector<apisix::UpstreamNode> nodes;
      if (cla != snapshot.cluster_load_assignments.end()) {
        nodes = TranslateLoadAssignment(cla->second, absl::StrCat("ClusterLoadAssignment ", service), skipped);
      }
      upstreams_.erase(it->second);  // its cached translation is stale: the next full call redoes it
      if (nodes == upstream->second.nodes) continue;
      upstream->second.nodes = std::move(nodes);
      updated.push_back(upstream->second);
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
