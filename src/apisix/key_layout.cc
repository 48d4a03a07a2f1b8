#include "apisix/key_layout.h"

#include "absl/strings/str_cat.h"

namespace agent::apisix {

std::string KeyLayout::RouteKey(absl::string_view id) const { return absl::StrCat(prefix_, "/routes/", id); }

std::string KeyLayout::UpstreamKey(absl::string_view id) const { return absl::StrCat(prefix_, "/upstreams/", id); }

std::string KeyLayout::StreamRouteKey(absl::string_view id) const {
  return absl::StrCat(prefix_, "/stream_routes/", id);
}

std::vector<std::string> KeyLayout::DirectoryPlaceholderKeys() const {
  // HTTP_ETCD_DIRECTORY ∪ STREAM_ETCD_DIRECTORY of apisix/constants.lua.
  static constexpr absl::string_view k3x[] = {
      "consumer_groups", "consumers",  "global_rules", "plugin_configs", "plugin_metadata", "plugins", "protos",
      "routes",          "secrets",    "services",     "ssls",           "stream_routes",   "upstreams"};
  static constexpr absl::string_view k2x[] = {"consumers",       "global_rules", "plugin_configs", "plugin_metadata",
                                             "plugins",         "proto",        "routes",         "services",
                                             "ssl",             "stream_routes", "upstreams"};
  std::vector<std::string> keys;
  if (line_ == VersionLine::k3x) {
    for (absl::string_view dir : k3x) keys.push_back(absl::StrCat(prefix_, "/", dir, "/"));
  } else {
    for (absl::string_view dir : k2x) keys.push_back(absl::StrCat(prefix_, "/", dir, "/"));
  }
  return keys;
}

}  // namespace agent::apisix
