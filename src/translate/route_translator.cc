#include "translate/route_translator.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "translate/filter_config_translator.h"
#include "translate/match_translator.h"

namespace agent::translate {

namespace {

std::string StripPort(const std::string& domain) {
  size_t colon = domain.rfind(':');
  if (colon == std::string::npos) return domain;
  size_t bracket = domain.rfind(']');
  if (bracket != std::string::npos && bracket > colon) return domain;  // bare [v6] literal
  if (bracket == std::string::npos && domain.find(':') != colon) return domain;  // bare v6 literal
  uint32_t port;
  if (!absl::SimpleAtoi(domain.substr(colon + 1), &port)) return domain;
  return domain.substr(0, colon);
}

// APISIX's route schema for a host: `^\*?[0-9a-zA-Z-._\[\]:]+$` (one leading wildcard, then
// host-name, IP-literal and port characters). Anything else makes APISIX refuse the route.
bool IsApisixHost(absl::string_view host) {
  absl::ConsumePrefix(&host, "*");
  if (host.empty()) return false;
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' && c != '[' &&
        c != ']' && c != ':') {
      return false;
    }
  }
  return true;
}

}  // namespace

HostTranslation TranslateDomains(const google::protobuf::RepeatedPtrField<std::string>& domains,
                                 const std::string& resource, Diagnostics& skipped) {
  HostTranslation out;
  bool any_host = false;
  for (const std::string& raw : domains) {
    std::string domain = absl::AsciiStrToLower(StripPort(raw));
    if (domain == "*") {
      any_host = true;
    } else if (absl::EndsWith(domain, "*")) {
      skipped.push_back({resource, "domains", absl::StrCat("\"", raw, "\": APISIX hosts cannot end in a wildcard")});
    } else if (!IsApisixHost(domain)) {
      skipped.push_back({resource, "domains", absl::StrCat("\"", raw, "\": not a host name APISIX accepts")});
    } else {
      out.tier = std::max(out.tier, absl::StartsWith(domain, "*") ? 1 : 2);
      if (std::find(out.hosts.begin(), out.hosts.end(), domain) == out.hosts.end()) out.hosts.push_back(domain);
    }
  }
  if (any_host) {
    out.hosts.clear();  // "*" matches every host, which the other domains only narrow
    out.tier = 0;
  } else if (out.hosts.empty() && !domains.empty()) {
    out.usable = false;
  }
  return out;
}

void TranslateRouteConfiguration(const envoy::config::route::v3::RouteConfiguration& config,
                                 const UpstreamIndex& upstreams, apisix::IdAllocator& ids,
                                 std::vector<apisix::Route>& routes, Diagnostics& skipped,
                                 std::vector<std::string>* id_names) {
  for (const auto& vhost : config.virtual_hosts()) {
    const std::string vhost_resource =
        absl::StrCat("RouteConfiguration ", config.name(), ", virtual host ", vhost.name());
    HostTranslation hosts = TranslateDomains(vhost.domains(), vhost_resource, skipped);
    if (!hosts.usable) {
      skipped.push_back({vhost_resource, "domains", "no domain APISIX can express; the virtual host is dropped"});
      continue;
    }
    const int route_count = vhost.routes_size();
    for (int i = 0; i < route_count; ++i) {
      const auto& route = vhost.routes(i);
      const std::string route_label = route.name().empty() ? absl::StrCat("#", i) : route.name();
      const std::string resource = absl::StrCat(vhost_resource, ", route ", route_label);
      if (i >= kMaxRoutesPerVirtualHost) {
        skipped.push_back({resource, "", "too many routes in one virtual host to keep their order"});
        break;
      }
      auto match = TranslateMatch(route.match(), resource, skipped);
      if (!match) continue;
      apisix::Route out;
      if (!TranslateRouteAction(route, InheritedHeaders{&vhost, &config}, upstreams, resource, out, skipped)) continue;
      TranslateFilterConfigs(route, vhost, resource, out, skipped);

      // Route names repeat across virtual hosts (Istio's "default"); the path to the route is unique.
      std::string id_name = absl::StrCat("route:", config.name(), "/", vhost.name(), "/", route_label);
      out.id = ids.Assign(id_name);
      if (id_names != nullptr) id_names->push_back(std::move(id_name));
      out.name = absl::StrCat(vhost.name(), "/", route_label);
      out.desc = absl::StrCat("xds route configuration ", config.name(), ", virtual host ", vhost.name(), ", route ",
                              route_label);
      out.uris = std::move(match->uris);
      out.vars = std::move(match->vars);
      out.hosts = hosts.hosts;
      out.priority = hosts.tier * kPriorityPerDomainTier + (kMaxRoutesPerVirtualHost - i);
      routes.push_back(std::move(out));
    }
  }
}

}  // namespace agent::translate
