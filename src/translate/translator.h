// xDS resources → APISIX objects. Pure: no I/O, no threads, no logging; the same snapshot always
// yields the same objects, with the same IDs and the same bytes.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "translate/diagnostics.h"
#include "xds/resource_snapshot.h"

namespace agent::translate {

struct Translation {
  std::vector<apisix::Route> routes;
  std::vector<apisix::Upstream> upstreams;
  Diagnostics skipped;
  // APISIX plugins the routes use: bundle mode enables exactly these.
  std::set<std::string> plugins_used;
};

struct TranslateOptions {
  // When set, routes only match connections whose original destination is a listener that
  // references their route configuration, tested on this nginx variable ("ip:port"). Stock nginx
  // has none: the original agent patched it in as $connection_original_dst. Empty = off.
  std::string original_dst_var;
};

// APISIX 2.x's proxy-rewrite and response-rewrite take headers as one flat map (a value of "" removes
// the header) where 3.x has add/set/remove; this rewrites 3.x shapes for a 2.x data plane.
void DowngradePluginsTo2x(Translation& translation);

Translation Translate(const xds::ResourceSnapshot& snapshot, const TranslateOptions& options = {});

}  // namespace agent::translate
