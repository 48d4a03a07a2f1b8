// Stable, collision-free APISIX object IDs derived from xDS resource names (DESIGN.md §6).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"

namespace agent::apisix {

// At 10,000 objects a 64-bit hash collides with probability ~3e-12; IdAllocator still checks.
// Assigns IDs (16 lowercase hex digits, within APISIX's ^[a-zA-Z0-9-_.]+$ and 64 characters) to a
// sequence of names; a collision rehashes the later name, so the same names asked in the same
// order always get the same IDs (translation asks in sorted order).
class IdAllocator {
 public:
  // Returns the ID for `name`; the same name always gets the same ID from one allocator.
  const std::string& Assign(const std::string& name);

 private:
  absl::node_hash_map<std::string, std::string> by_name_;  // nodes: the returned references stay valid
  absl::flat_hash_set<std::string> taken_;
};

}  // namespace agent::apisix
