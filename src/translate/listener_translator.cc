#include "translate/listener_translator.h"

#include <algorithm>
#include <set>

#include <google/protobuf/struct.pb.h>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace agent::translate {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

namespace {

// HTTP filters whose effect the translation reproduces: routing itself, and the filters whose
// per-route configuration becomes plugins.
bool IsTranslatedHttpFilter(
    const envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter& filter) {
  static const std::set<std::string> kTranslated = {
      "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
      "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
      "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"};
  return kTranslated.count(filter.typed_config().type_url()) > 0 ||
         filter.name() == "envoy.filters.http.router" || filter.name() == "envoy.router";
}

// The JSON loader replaces Anys of unknown types with a Struct naming the original type.
std::string OriginalTypeUrl(const google::protobuf::Any& any) {
  google::protobuf::Struct placeholder;
  if (any.Is<google::protobuf::Struct>() && any.UnpackTo(&placeholder)) {
    auto it = placeholder.fields().find("unknown_type_url");
    if (it != placeholder.fields().end()) return it->second.string_value();
  }
  return any.type_url();
}

}  // namespace

ListenerRoutes ExtractListenerRoutes(const envoy::config::listener::v3::Listener& listener, Diagnostics& skipped) {
  ListenerRoutes out;
  const std::string resource = absl::StrCat("Listener ", listener.name());
  auto visit_chain = [&](const envoy::config::listener::v3::FilterChain& chain) {
    if (chain.has_transport_socket() && chain.transport_socket().name() != "envoy.transport_sockets.raw_buffer") {
      skipped.push_back({resource, absl::StrCat("filter_chains[", chain.name(), "].transport_socket"),
                         "terminating TLS needs certificates from SDS; this chain's TLS is not translated"});
    }
    for (const auto& filter : chain.filters()) {
      if (!filter.has_typed_config() || !filter.typed_config().Is<HttpConnectionManager>()) {
        skipped.push_back({resource, absl::StrCat("filter ", filter.name()),
                           "only HTTP connection managers are translated (TCP proxying needs stream routes on the "
                           "original destination)"});
        continue;
      }
      HttpConnectionManager hcm;
      if (!filter.typed_config().UnpackTo(&hcm)) {
        skipped.push_back({resource, absl::StrCat("filter ", filter.name()), "does not decode"});
        continue;
      }
      for (const auto& http_filter : hcm.http_filters()) {
        if (!IsTranslatedHttpFilter(http_filter)) {
          skipped.push_back({resource, absl::StrCat("http_filter ", http_filter.name()),
                             absl::StrCat("not translated (", OriginalTypeUrl(http_filter.typed_config()), ")")});
        }
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
