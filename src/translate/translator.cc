#include "translate/translator.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "translate/match_translator.h"
#include "translate/cluster_translator.h"
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

}  // namespace

Translation Translate(const xds::ResourceSnapshot& snapshot, const TranslateOptions& options) {
  Translation out;
  apisix::IdAllocator ids;  // one allocator for every object: IDs never collide across kinds either

  UpstreamIndex upstreams;
  for (const auto& [name, cluster] : snapshot.clusters) {  // std::map: sorted, so IDs are set-determined
    auto upstream = TranslateCluster(cluster, snapshot, out.skipped);
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
  auto translate = [&](const envoy::config::route::v3::RouteConfiguration& config) {
    translated_configs.push_back(&config);
    const size_t first = out.routes.size();
    TranslateRouteConfiguration(config, upstreams, ids, out.routes, out.skipped);
    if (options.original_dst_var.empty()) return;
    auto binding = ListenerBinding(users[config.name()], options.original_dst_var);
    if (!binding) return;  // used by no listener we know of (file mode with RDS only): unbound
    for (size_t i = first; i < out.routes.size(); ++i) out.routes[i].vars.push_back(*binding);
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
  for (const apisix::Route& route : out.routes) {
    for (const auto& [plugin, conf] : route.plugins.items()) out.plugins_used.insert(plugin);
  }
  return out;
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
