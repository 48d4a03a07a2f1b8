#include "absl/strings/string_view.h"
#include "xds/file_set.h"

#include <algorithm>
#include <future>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/content_hash.h"
#include "common/read_file.h"
#include "xds/discovery_json.h"

namespace agent::xds {

bool IsXdsFileName(const std::string& name) {
  return absl::EndsWith(name, ".json") && !absl::StartsWith(name, ".") && !absl::StartsWith(name, "#");
}

FileSet::Decoded FileSet::Decode(const std::string& path) {
  Decoded out;
  std::string content;
  if (absl::Status read = ReadWholeFile(path, content); !read.ok()) {
    out.status = std::move(read);
    return out;
  }
  out.content_hash = ContentHash64(content);
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
  FileState& state = files_[path];
  state.content_hash = decoded.content_hash;
  state.loaded = std::chrono::system_clock::now();
  ResourceSnapshot& in = decoded.resources;
  Replace(path, kListenerType, merged_.listeners, std::move(in.listeners));
  Replace(path, kRouteConfigurationType, merged_.route_configurations, std::move(in.route_configurations));
  Replace(path, kClusterType, merged_.clusters, std::move(in.clusters));
  Replace(path, kClusterLoadAssignmentType, merged_.cluster_load_assignments, std::move(in.cluster_load_assignments));
  *changed = true;
  return absl::OkStatus();
}

namespace {
absl::string_view KindOf(absl::string_view type) { return type.substr(type.rfind('.') + 1); }
}  // namespace

template <typename Map>
bool FileSet::Replace(const std::string& path, const char* type, Map& merged, Map incoming) {
  const std::string* self = &files_.find(path)->first;
  std::map<std::string, std::vector<const std::string*>>& definers = definers_[type];
  bool defined = false;
  std::map<const std::string*, std::vector<std::string>> restore;  // file → names it defines next
  // What the file no longer defines: gone, or back to the file that defines it next.
  for (auto it = definers.begin(); it != definers.end();) {
    std::vector<const std::string*>& paths = it->second;
    auto at = std::find(paths.begin(), paths.end(), self);
    if (at == paths.end()) {
      ++it;
      continue;
    }
    defined = true;
    if (incoming.count(it->first) > 0) {
      ++it;
      continue;
    }
    const bool was_winner = at + 1 == paths.end();
    paths.erase(at);
    if (paths.empty()) {
      merged.erase(it->first);
      it = definers.erase(it);
      continue;
    }
    if (was_winner) restore[paths.back()].push_back(it->first);
    ++it;
  }
  // Each such file is read once, however many of its names come back.
  for (const auto& [file, names] : restore) Restore(*file, type, merged, names);
  for (auto& [name, resource] : incoming) {
    std::vector<const std::string*>& paths = definers[name];
    auto at = std::lower_bound(paths.begin(), paths.end(), self,
                               [](const std::string* a, const std::string* b) { return *a < *b; });
    if (at == paths.end() || *at != self) paths.insert(at, self);
    if (paths.size() > 1) {
      log::Warn("%s %s is defined by more than one xDS file; the one in %s is used", KindOf(type), name,
                *paths.back());
    }
    if (paths.back() == self) merged.insert_or_assign(name, std::move(resource));
  }
  return defined;
}

template <typename Map>
void FileSet::Restore(const std::string& path, const char* type, Map& merged, const std::vector<std::string>& names) {
  ++rereads_;
  Decoded again = Decode(path);
  const Map* from = nullptr;
  if constexpr (std::is_same_v<Map, decltype(merged_.listeners)>) from = &again.resources.listeners;
  if constexpr (std::is_same_v<Map, decltype(merged_.route_configurations)>) from = &again.resources.route_configurations;
  if constexpr (std::is_same_v<Map, decltype(merged_.clusters)>) from = &again.resources.clusters;
  if constexpr (std::is_same_v<Map, decltype(merged_.cluster_load_assignments)>) {
    from = &again.resources.cluster_load_assignments;
  }
  for (const std::string& name : names) {
    auto it = again.status.ok() ? from->find(name) : from->end();
    if (it == from->end()) {
      log::Warn("%s %s: %s defined it too but no longer reads as it did; it is withdrawn until that file is loaded "
                "again",
                KindOf(type), name, path);
      merged.erase(name);
      continue;
    }
    merged.insert_or_assign(name, std::move(it->second));
  }
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
  bool contributed = Replace(path, kListenerType, merged_.listeners, {});
  contributed = Replace(path, kRouteConfigurationType, merged_.route_configurations, {}) || contributed;
  contributed = Replace(path, kClusterType, merged_.clusters, {}) || contributed;
  contributed = Replace(path, kClusterLoadAssignmentType, merged_.cluster_load_assignments, {}) || contributed;
  files_.erase(it);
  return contributed;
}

XdsDump FileSet::Dump() const {
  XdsDump dump;
  dump.snapshot = merged_;
  for (const auto& [type, names] : definers_) {
    for (const auto& [name, paths] : names) {
      const std::string& winner = *paths.back();  // path order: a later file's definition wins
      dump.origins[type][name] = ResourceOrigin{"", winner, files_.at(winner).loaded};
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

}  // namespace agent::xds
