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

Translation Translate(const xds::ResourceSnapshot& snapshot);

}  // namespace agent::translate
