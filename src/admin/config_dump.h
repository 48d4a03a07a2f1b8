// /config_dump: what the control plane sent (every xDS resource held, with its version and where
// and when it came from), what APISIX gets (every object served, with its key, mod_revision and
// the xDS resource it was translated from) and what was left out. Pure: built from copies the
// caller takes; the same state gives the same bytes whatever the order things arrived in.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "xds/xds_dump.h"

namespace agent::admin {

struct ServedObject {
  std::string key;
  int64_t mod_revision = 0;
  std::string value;   // the JSON APISIX reads
  std::string source;  // the xDS resource it was translated from; "" = the value's `desc` says it
};

struct DumpFilter {
  // "" = everything; else one of listeners, route_configurations, clusters,
  // cluster_load_assignments (the xDS side), routes, upstreams, stream_routes (APISIX), skipped.
  std::string resource;
  std::string name;  // substring of a resource's name, or of an object's key or source
};

// The sections `resource` accepts, for the error message of an unknown one.
const std::vector<std::string>& DumpSections();

nlohmann::json BuildConfigDump(const xds::XdsDump& xds, const std::vector<ServedObject>& served,
                               const std::vector<std::string>& skipped, int64_t revision, const DumpFilter& filter);

// Secrets inside xDS (TLS private keys, passwords, session ticket keys) as Envoy's admin shows
// them: the field stays, its value is "[redacted]".
void Redact(nlohmann::json& value);

}  // namespace agent::admin
