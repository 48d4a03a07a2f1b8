#include "absl/strings/string_view.h"
#include "xds/file_set.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "xds/discovery_json.h"

namespace agent::xds {

bool IsXdsFileName(const std::string& name) {
  return absl::EndsWith(name, ".json") && !absl::StartsWith(name, ".") && !absl::StartsWith(name, "#");
}

absl::Status FileSet::Load(const std::string& path, bool* changed) {
  *changed = false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string content = buffer.str();

  auto existing = files_.find(path);
  if (existing != files_.end() && existing->second.content == content) return absl::OkStatus();

  DecodeReport report;
  auto decoded = DecodeDiscoveryResponseJson(content, &report);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", decoded.status().message(),
        existing != files_.end() ? " (its last good content stays in force)" : " (nothing from it is served)"));
  }
  for (const std::string& type : report.unknown_types) {
    log::Debug("xds file %s: skipped an Any of unknown type %s", path, type);
  }
  for (const std::string& skipped : report.skipped_resources) log::Warn("xds file %s: skipped %s", path, skipped);
  files_.insert_or_assign(path, FileState{std::move(content), *std::move(decoded)});
  *changed = true;
  return absl::OkStatus();
}

bool FileSet::Remove(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return false;
  bool contributed = it->second.resources.size() > 0;
  files_.erase(it);
  return contributed;
}

namespace {
template <typename Map>
void MergeInto(Map& into, const Map& from, const std::string& path, absl::string_view kind) {
  for (const auto& [name, resource] : from) {
    if (!into.insert_or_assign(name, resource).second) {
      log::Warn("%s %s is defined by more than one xDS file; the one in %s is used", kind, name, path);
    }
  }
}
}  // namespace

ResourceSnapshot FileSet::Merge() const {
  ResourceSnapshot merged;
  for (const auto& [path, state] : files_) {
    MergeInto(merged.listeners, state.resources.listeners, path, "Listener");
    MergeInto(merged.route_configurations, state.resources.route_configurations, path, "RouteConfiguration");
    MergeInto(merged.clusters, state.resources.clusters, path, "Cluster");
    MergeInto(merged.cluster_load_assignments, state.resources.cluster_load_assignments, path,
              "ClusterLoadAssignment");
  }
  return merged;
}

}  // namespace agent::xds
