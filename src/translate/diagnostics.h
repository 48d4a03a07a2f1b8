#pragma once

#include <string>
#include <vector>

namespace agent::translate {

// Something the translation left out: which resource, which field, and why. Collected rather than
// logged, so translation stays pure and the caller decides how loudly to report.
struct Skipped {
  std::string resource;  // e.g. "RouteConfiguration rc1, virtual host vh, route r"
  std::string field;     // e.g. "match.headers[0].range_match"
  std::string reason;

  std::string ToString() const { return resource + ": " + field + ": " + reason; }
};

using Diagnostics = std::vector<Skipped>;

}  // namespace agent::translate
