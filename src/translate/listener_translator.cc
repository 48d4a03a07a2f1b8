#include "translate/listener_translator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace agent::translate {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

ListenerRoutes ExtractListenerRoutes(const envoy::config::listener::v3::Listener& listener, Diagnostics& skipped) {
  ListenerRoutes out;
  const std::string resource = absl::StrCat("Listener ", listener.name());
  auto visit_chain = [&](const envoy::config::listener::v3::FilterChain& chain) {
    for (const auto& filter : chain.filters()) {
      if (!filter.has_typed_config() || !filter.typed_config().Is<HttpConnectionManager>()) continue;
      HttpConnectionManager hcm;
      if (!filter.typed_config().UnpackTo(&hcm)) {
        skipped.push_back({resource, absl::StrCat("filter ", filter.name()), "does not decode"});
        continue;
      }
      if (hcm.has_rds()) {
        const std::string& name = hcm.rds().route_config_name();
        if (std::find(out.rds_names.begin(), out.rds_names.end(), name) == out.rds_names.end()) {
          out.rds_names.push_back(name);
        }
      } else if (hcm.has_route_config()) {
        auto config = hcm.route_config();
        if (config.name().empty()) config.set_name(absl::StrCat(listener.name(), "/inline"));
        out.inline_configs.push_back(std::move(config));
      } else if (hcm.has_scoped_routes()) {
        skipped.push_back({resource, "scoped_routes", "scoped route configurations are not translated"});
      }
    }
  };
  for (const auto& chain : listener.filter_chains()) visit_chain(chain);
  if (listener.has_default_filter_chain()) visit_chain(listener.default_filter_chain());
  return out;
}

}  // namespace agent::translate
