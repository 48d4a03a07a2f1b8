#include "absl/strings/string_view.h"
#include "apisix/key_layout.h"

#include "absl/strings/str_cat.h"

namespace agent::apisix {

std::string KeyLayout::RouteKey(absl::string_view id) const { return absl::StrCat(prefix_, "/routes/", id); }

std::string KeyLayout::UpstreamKey(absl::string_view id) const { return absl::StrCat(prefix_, "/upstreams/", id); }

std::vector<std::string> KeyLayout::DirectoryPlaceholderKeys() const {
  static constexpr absl::string_view kDirs[] = {
      "consumer_groups", "consumers",  "global_rules", "plugin_configs", "plugin_metadata", "plugins", "protos",
      "routes",          "secrets",    "services",     "ssls",           "stream_routes",   "upstreams"};
  std::vector<std::string> keys;
  for (absl::string_view dir : kDirs) keys.push_back(absl::StrCat(prefix_, "/", dir, "/"));
  return keys;
}

}  // namespace agent::apisix
