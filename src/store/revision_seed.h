// Revisions must never go backwards across agent restarts: APISIX 3.12+ treats a smaller revision
// as "etcd restarted" and resyncs, older releases silently ignore events until the counter catches
// up (apisix-etcd-protocol.md §9, pitfalls 3, 4, 17). The agent starts from the wall clock in
// milliseconds (about 1.8e12, far below the 1e14 APISIX's JSON encoder can carry) or from the
// revision a previous run saved, whichever is larger.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace agent::store {

// `state_file` may be empty (clock only) or not exist yet. A corrupt file is an error.
absl::StatusOr<int64_t> InitialRevision(const std::string& state_file, int64_t now_unix_ms);

// Saves the last revision (atomically: write, fsync, rename).
absl::Status SaveRevision(const std::string& state_file, int64_t revision);

}  // namespace agent::store
