// Where APISIX objects live in the etcd key space: <prefix>/<dir>/<id>.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace agent::apisix {

// APISIX renamed directories between lines (2.x /ssl and /proto became 3.x /ssls and /protos) and
// added some; the agent serves the names of one line (apisix-etcd-protocol.md §6).
enum class VersionLine { k2x, k3x };

class KeyLayout {
 public:
  explicit KeyLayout(std::string prefix, VersionLine line = VersionLine::k3x)
      : prefix_(std::move(prefix)), line_(line) {}

  const std::string& prefix() const { return prefix_; }
  VersionLine line() const { return line_; }
  std::string RouteKey(absl::string_view id) const;
  std::string UpstreamKey(absl::string_view id) const;
  std::string StreamRouteKey(absl::string_view id) const;

  // The `<prefix>/<dir>/` = "init_dir" placeholders APISIX 2.x–3.7 need as the first key of every
  // directory range (apisix-etcd-protocol.md §3.3).
  std::vector<std::string> DirectoryPlaceholderKeys() const;

 private:
  std::string prefix_;
  VersionLine line_;
};

inline constexpr char kDirectoryPlaceholderValue[] = "init_dir";

}  // namespace agent::apisix
