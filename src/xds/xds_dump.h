// What /config_dump shows of the xDS side: every resource held, with where and when it came from.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "xds/resource_snapshot.h"

namespace agent::xds {

struct ResourceOrigin {
  std::string version;  // the resource's (Delta) or its response's (SotW) version; "" for files
  std::string source;   // the file it came from, or "ads <control plane>"
  std::chrono::system_clock::time_point arrived{};
};

struct XdsDump {
  ResourceSnapshot snapshot;
  std::map<std::string, std::map<std::string, ResourceOrigin>> origins;  // type → name → origin
};

}  // namespace agent::xds
