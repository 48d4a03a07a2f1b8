// xDS resources → APISIX objects. Pure: no I/O, no threads, no logging; the same snapshot always
// yields the same objects, with the same IDs and the same bytes.
#pragma once

#include <vector>

#include "apisix/resources.h"
#include "translate/diagnostics.h"
#include "xds/resource_snapshot.h"

namespace agent::translate {

struct Translation {
  std::vector<apisix::Route> routes;
  std::vector<apisix::Upstream> upstreams;
  Diagnostics skipped;
};

Translation Translate(const xds::ResourceSnapshot& snapshot);

}  // namespace agent::translate
