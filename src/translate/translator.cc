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

  std::map<std::string, std::string> upstream_ids;
  for (const auto& [name, cluster] : snapshot.clusters) {  // std::map: sorted, so IDs are set-determined
    auto upstream = TranslateCluster(cluster, snapshot, out.skipped);
    if (!upstream) continue;
    upstream->id = ids.Assign(absl::StrCat("upstream:", name));
    upstream_ids.emplace(name, upstream->id);
    out.upstreams.push_back(*std::move(upstream));
  }

  for (const auto& [name, config] : snapshot.route_configurations) {
    TranslateRouteConfiguration(config, upstream_ids, ids, out.routes, out.skipped);
  }
  std::set<std::string> translated;
  for (const auto& [name, config] : snapshot.route_configurations) translated.insert(name);
  for (const auto& [name, listener] : snapshot.listeners) {
    for (const auto& config : ExtractListenerRoutes(listener, out.skipped).inline_configs) {
      // Listeners repeat one inline configuration in several filter chains; translate it once.
      if (!translated.insert(config.name()).second) continue;
      TranslateRouteConfiguration(config, upstream_ids, ids, out.routes, out.skipped);
    }
  }
  return out;
}

}  // namespace agent::translate
