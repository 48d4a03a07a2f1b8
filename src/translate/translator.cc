#include "translate/translator.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "translate/cluster_translator.h"
#include "translate/listener_translator.h"
#include "translate/route_translator.h"

namespace agent::translate {

Translation Translate(const xds::ResourceSnapshot& snapshot) {
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

  for (const auto& [name, config] : snapshot.route_configurations) {
    TranslateRouteConfiguration(config, upstreams, ids, out.routes, out.skipped);
  }
  std::set<std::string> translated;
  for (const auto& [name, config] : snapshot.route_configurations) translated.insert(name);
  for (const auto& [name, listener] : snapshot.listeners) {
    for (const auto& config : ExtractListenerRoutes(listener, out.skipped).inline_configs) {
      // Listeners repeat one inline configuration in several filter chains; translate it once.
      if (!translated.insert(config.name()).second) continue;
      TranslateRouteConfiguration(config, upstreams, ids, out.routes, out.skipped);
    }
  }
  for (const apisix::Route& route : out.routes) {
    for (const auto& [plugin, conf] : route.plugins.items()) out.plugins_used.insert(plugin);
  }
  return out;
}

}  // namespace agent::translate
