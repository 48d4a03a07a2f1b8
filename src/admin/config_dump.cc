#include "admin/config_dump.h"

#include <algorithm>
#include <set>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/time/time.h"

namespace agent::admin {

namespace {

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

template <typename Map>
nlohmann::json XdsSection(const std::string& type, const Map& resources, const xds::XdsDump& dump,
                          const DumpFilter& filter) {
  nlohmann::json out = nlohmann::json::array();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  const auto origins = dump.origins.find(type);
  for (const auto& [name, resource] : resources) {  // std::map: sorted by name
    if (!filter.name.empty() && !absl::StrContains(name, filter.name)) continue;
    std::string json;
    nlohmann::json item = {{"name", name}};
    if (google::protobuf::util::MessageToJsonString(resource.Unpack(), &json, options).ok()) {
      item["resource"] = nlohmann::json::parse(json, nullptr, false);
      Redact(item["resource"]);
    }
    if (origins != dump.origins.end()) {
      if (auto o = origins->second.find(name); o != origins->second.end()) {
        if (!o->second.version.empty()) item["version"] = o->second.version;
        item["source"] = o->second.source;
        if (auto when = Rfc3339(o->second.arrived); !when.empty()) item["arrived"] = when;
      }
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& DumpSections() {
  static const std::vector<std::string> kSections = {"listeners", "route_configurations", "clusters",
                                                     "cluster_load_assignments", "routes", "upstreams",
                                                     "stream_routes", "skipped"};
  return kSections;
}

void Redact(nlohmann::json& value) {
  static const std::set<std::string> kSecret = {"private_key", "privateKey", "password", "session_ticket_keys",
                                                "sessionTicketKeys", "hmac_secret", "hmacSecret"};
  if (value.is_object()) {
    for (auto& [key, child] : value.items()) {
      if (kSecret.count(key)) {
        child = "[redacted]";
      } else {
        Redact(child);
      }
    }
  } else if (value.is_array()) {
    for (auto& child : value) Redact(child);
  }
}

nlohmann::json BuildConfigDump(const xds::XdsDump& xds, const std::vector<ServedObject>& served,
                               const std::vector<std::string>& skipped, int64_t revision, const DumpFilter& filter) {
  const auto wanted = [&](const std::string& section) { return filter.resource.empty() || filter.resource == section; };
  nlohmann::json out;
  out["revision"] = revision;
  nlohmann::json x = nlohmann::json::object();
  if (wanted("listeners")) x["listeners"] = XdsSection(xds::kListenerType, xds.snapshot.listeners, xds, filter);
  if (wanted("route_configurations")) {
    x["route_configurations"] =
        XdsSection(xds::kRouteConfigurationType, xds.snapshot.route_configurations, xds, filter);
  }
  if (wanted("clusters")) x["clusters"] = XdsSection(xds::kClusterType, xds.snapshot.clusters, xds, filter);
  if (wanted("cluster_load_assignments")) {
    x["cluster_load_assignments"] =
        XdsSection(xds::kClusterLoadAssignmentType, xds.snapshot.cluster_load_assignments, xds, filter);
  }
  if (!x.empty()) out["xds"] = std::move(x);

  nlohmann::json a = nlohmann::json::object();
  std::vector<ServedObject> sorted = served;
  std::sort(sorted.begin(), sorted.end(), [](const auto& l, const auto& r) { return l.key < r.key; });
  for (const std::string section : {"routes", "upstreams", "stream_routes"}) {
    if (!wanted(section)) continue;
    nlohmann::json items = nlohmann::json::array();
    const std::string marker = "/" + section + "/";
    for (const ServedObject& o : sorted) {
      const size_t at = o.key.rfind(marker);
      if (at == std::string::npos || at + marker.size() == o.key.size()) continue;  // another kind, or a placeholder
      nlohmann::json value = nlohmann::json::parse(o.value, nullptr, false);
      std::string source = o.source;
      if (source.empty() && value.is_object()) {  // a route's or upstream's desc says where it came from
        const auto desc = value.find("desc");
        if (desc != value.end() && desc->is_string()) source = desc->get<std::string>();
      }
      if (!filter.name.empty() && !absl::StrContains(o.key, filter.name) && !absl::StrContains(source, filter.name)) {
        continue;
      }
      nlohmann::json item = {{"key", o.key}, {"mod_revision", o.mod_revision}};
      if (!source.empty()) item["source"] = std::move(source);
      item["value"] = std::move(value);
      items.push_back(std::move(item));
    }
    a[section] = std::move(items);
  }
  if (!a.empty()) out["apisix"] = std::move(a);
  if (wanted("skipped")) {
    std::vector<std::string> lines;
    for (const std::string& s : skipped) {
      if (filter.name.empty() || absl::StrContains(s, filter.name)) lines.push_back(s);
    }
    std::sort(lines.begin(), lines.end());
    out["skipped"] = lines;
  }
  return out;
}

}  // namespace agent::admin
