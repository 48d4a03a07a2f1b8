#pragma once

#include <map>
#include <string>
#include <vector>

#include "apisix/ids.h"
#include "apisix/resources.h"
#include "envoy/config/route/v3/route.pb.h"
#include "translate/diagnostics.h"
#include "translate/route_action_translator.h"

namespace agent::translate {

// Envoy picks a virtual host by its most specific domain, then the first matching route in order.
// APISIX picks the highest priority, so a route's priority encodes both: the domain tier (exact >
// *.suffix > *) in the millions, and the position inside its virtual host below that.
inline constexpr int64_t kPriorityPerDomainTier = 1000000;
inline constexpr int64_t kMaxRoutesPerVirtualHost = kPriorityPerDomainTier - 1;

// Virtual host domains as APISIX hosts: ports stripped, duplicates removed, "*" = any host (empty).
// Domains APISIX cannot express (prefix wildcards such as "foo.*") are reported and left out.
struct HostTranslation {
  std::vector<std::string> hosts;
  int tier = 0;  // 2 exact, 1 suffix wildcard, 0 any
  bool usable = true;  // false: the virtual host had domains, none expressible
};
HostTranslation TranslateDomains(const google::protobuf::RepeatedPtrField<std::string>& domains,
                                 const std::string& resource, Diagnostics& skipped);

// Routes of one RouteConfiguration.
void TranslateRouteConfiguration(const envoy::config::route::v3::RouteConfiguration& config,
                                 const UpstreamIndex& upstreams, apisix::IdAllocator& ids,
                                 std::vector<apisix::Route>& routes, Diagnostics& skipped,
                                 std::vector<std::string>* id_names = nullptr);

}  // namespace agent::translate
