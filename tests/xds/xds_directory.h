// A directory of xDS files (DiscoveryResponse JSON, as the file provisioner reads them) as the
// test and benchmark management servers serve it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>

#include "absl/status/statusor.h"
#include "xds/file_set.h"

namespace agent::xds::testing {

inline absl::StatusOr<ResourceSnapshot> LoadXdsDirectory(const std::string& dir) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) paths.push_back(entry.path().string());
  FileSet files;
  std::vector<bool> changed;
  for (const absl::Status& status : files.LoadAll(paths, &changed)) {
    if (!status.ok()) return status;
  }
  return files.snapshot();
}

// The resources of one type, as a response carries them.
template <typename Map>
std::vector<google::protobuf::Any> PackAll(const Map& resources) {
  std::vector<google::protobuf::Any> out;
  for (const auto& [name, message] : resources) out.emplace_back().PackFrom(message);
  return out;
}

}  // namespace agent::xds::testing
