#include "absl/strings/string_view.h"
#include "xds/file_set.h"

#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/stable_hash.h"
#include "xds/discovery_json.h"

namespace agent::xds {

bool IsXdsFileName(const std::string& name) {
  return absl::EndsWith(name, ".json") && !absl::StartsWith(name, ".") && !absl::StartsWith(name, "#");
}

FileSet::Decoded FileSet::Decode(const std::string& path) {
  Decoded out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.status = absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    return out;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string content = buffer.str();
  out.content_hash = StableHash64(content);
  auto decoded = DecodeDiscoveryResponseJson(content, &out.report);
  if (!decoded.ok()) {
    out.status = decoded.status();
  } else {
    out.resources = *std::move(decoded);
  }
  return out;
}

absl::Status FileSet::Commit(const std::string& path, Decoded decoded, bool* changed) {
  *changed = false;
  auto existing = files_.find(path);
  if (decoded.status.code() == absl::StatusCode::kNotFound) return decoded.status;
  if (existing != files_.end() && existing->second.content_hash == decoded.content_hash) return absl::OkStatus();
  if (!decoded.status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", decoded.status.message(),
        existing != files_.end() ? " (its last good content stays in force)" : " (nothing from it is served)"));
  }
  for (const std::string& type : decoded.report.unknown_types) {
    log::Debug("xds file %s: skipped an Any of unknown type %s", path, type);
  }
  for (const std::string& skipped : decoded.report.skipped_resources) log::Warn("xds file %s: skipped %s", path, skipped);
  files_.insert_or_assign(path,
                          FileState{decoded.content_hash, std::move(decoded.resources), std::chrono::system_clock::now()});
  *changed = true;
  return absl::OkStatus();
}

absl::Status FileSet::Load(const std::string& path, bool* changed) { return Commit(path, Decode(path), changed); }

std::vector<absl::Status> FileSet::LoadAll(const std::vector<std::string>& paths, std::vector<bool>* changed) {
  std::vector<std::future<Decoded>> pending;
  for (const std::string& path : paths) {
    pending.push_back(std::async(paths.size() > 1 ? std::launch::async : std::launch::deferred, &FileSet::Decode, path));
  }
  std::vector<absl::Status> statuses;
  changed->assign(paths.size(), false);
  for (size_t i = 0; i < paths.size(); ++i) {
    bool file_changed = false;
    statuses.push_back(Commit(paths[i], pending[i].get(), &file_changed));
    (*changed)[i] = file_changed;
  }
  return statuses;
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

XdsDump FileSet::Dump() const {
  XdsDump dump;
  dump.snapshot = Merge();
  for (const auto& [path, state] : files_) {  // path order: a later file's definition wins, as in Merge
    const ResourceOrigin origin{"", path, state.loaded};
    for (const auto& [name, r] : state.resources.listeners) dump.origins[kListenerType][name] = origin;
    for (const auto& [name, r] : state.resources.route_configurations) dump.origins[kRouteConfigurationType][name] = origin;
    for (const auto& [name, r] : state.resources.clusters) dump.origins[kClusterType][name] = origin;
    for (const auto& [name, r] : state.resources.cluster_load_assignments) {
      dump.origins[kClusterLoadAssignmentType][name] = origin;
    }
  }
  return dump;
}

std::vector<std::string> FileSet::paths() const {
  std::vector<std::string> out;
  out.reserve(files_.size());
  for (const auto& [path, state] : files_) out.push_back(path);
  return out;
}

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
