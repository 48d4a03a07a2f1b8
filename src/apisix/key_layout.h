// Where APISIX objects live in the etcd key space: <prefix>/<dir>/<id>.
#pragma once

#include "absl/strings/string_view.h"
#include <string>
#include <string_view>
#include <vector>

namespace agent::apisix {

class KeyLayout {
 public:
  explicit KeyLayout(std::string prefix) : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string RouteKey(absl::string_view id) const;
  std::string UpstreamKey(absl::string_view id) const;

  // The `<prefix>/<dir>/` = "init_dir" placeholders APISIX 2.x–3.7 need as the first key of every
  // directory range (apisix-etcd-protocol.md §3.3); the 3.x directory names.
  std::vector<std::string> DirectoryPlaceholderKeys() const;

 private:
  std::string prefix_;
};

inline constexpr char kDirectoryPlaceholderValue[] = "init_dir";

}  // namespace agent::apisix
