// A directory of xDS files (DiscoveryResponse JSON, as the file provisioner reads them) as the
// test and benchmark management servers serve it.
#pragma once

#include <filesystem>
#include <type_traits>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
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
  for (const auto& [name, packed] : resources) {
    google::protobuf::Any& any = out.emplace_back();
    any.set_type_url(absl::StrCat("type.googleapis.com/", std::decay_t<decltype(packed)>::message_type::descriptor()->full_name()));
    any.set_value(packed.bytes());
  }
  return out;
}

}  // namespace agent::xds::testing
