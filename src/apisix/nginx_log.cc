#include "apisix/nginx_log.h"

#include <utility>

#include "absl/strings/match.h"

namespace agent::apisix {

log::Level NginxLineLevel(absl::string_view line, log::Level otherwise) {
  // "2026/12/01 21:00:00 [warn] ..." (the error log) or "nginx: [emerg] ..." (nginx's own stderr).
  size_t open;
  if (line.size() > 20 && line[4] == '/' && line[7] == '/' && line[13] == ':' && line[20] == '[') {
    open = 20;
  } else if (absl::StartsWith(line, "nginx: [")) {
    open = 7;
  } else {
    return otherwise;
  }
  const size_t close = line.find(']', open);
  if (close == absl::string_view::npos) return otherwise;
  const absl::string_view word = line.substr(open + 1, close - open - 1);
  static constexpr std::pair<absl::string_view, log::Level> kLevels[] = {
      {"debug", log::Level::kDebug}, {"info", log::Level::kInfo},   {"notice", log::Level::kInfo},
      {"warn", log::Level::kWarn},   {"error", log::Level::kError}, {"crit", log::Level::kError},
      {"alert", log::Level::kError}, {"emerg", log::Level::kError},
  };
  for (const auto& [name, level] : kLevels) {
    if (word == name) return level;
  }
  return otherwise;
}

}  // namespace agent::apisix
