#include "translate/translator.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "translate/cluster_translator.h"
#include "translate/route_translator.h"

namespace agent::translate {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

namespace {

// Route configurations carried inline by listeners' HTTP connection managers (RDS ones arrive as
// RouteConfiguration resources and are in the snapshot already).
std::vector<envoy::config::route::v3::RouteConfiguration> InlineRouteConfigurations(
    const xds::ResourceSnapshot& snapshot, Diagnostics& skipped) {
  std::vector<envoy::config::route::v3::RouteConfiguration> configs;
  for (const auto& [name, listener] : snapshot.listeners) {
    auto visit_chain = [&](const envoy::config::listener::v3::FilterChain& chain) {
      for (const auto& filter : chain.filters()) {
        if (!filter.has_typed_config() || !filter.typed_config().Is<HttpConnectionManager>()) continue;
        HttpConnectionManager hcm;
        if (!filter.typed_config().UnpackTo(&hcm)) {
          skipped.push_back({absl::StrCat("Listener ", name), "filter " + filter.name(), "does not decode"});
          continue;
        }
        if (hcm.has_route_config()) {
          auto config = hcm.route_config();
          // Inline configurations are often unnamed; name them after their listener for stable IDs.
          if (config.name().empty()) config.set_name(absl::StrCat(name, "/inline"));
          configs.push_back(std::move(config));
        }
      }
    };
    for (const auto& chain : listener.filter_chains()) visit_chain(chain);
    if (listener.has_default_filter_chain()) visit_chain(listener.default_filter_chain());
  }
  return configs;
}

}  // namespace

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
  for (const auto& config : InlineRouteConfigurations(snapshot, out.skipped)) {
    // Listeners repeat one inline configuration in several filter chains; translate it once.
    if (!translated.insert(config.name()).second) continue;
    TranslateRouteConfiguration(config, upstream_ids, ids, out.routes, out.skipped);
  }
  return out;
}

}  // namespace agent::translate
