// Revisions must never go backwards across agent restarts: APISIX 3.12+ treats a smaller revision
// as "etcd restarted" and resyncs, older releases silently ignore events until the counter catches
// up (apisix-etcd-protocol.md §9, pitfalls 3, 4, 17). The agent starts from the wall clock in
// milliseconds (about 1.8e12, far below the 1e14 APISIX's JSON encoder can carry) or from the
// revision a previous run saved, whichever is larger.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace agent::store {

// `state_file` may be empty (clock only) or not exist yet. A corrupt file is an error.
absl::StatusOr<int64_t> InitialRevision(const std::string& state_file, int64_t now_unix_ms);

// Saves the last revision (atomically: write, fsync, rename).
absl::Status SaveRevision(const std::string& state_file, int64_t revision);

// Keeps `state_file` ahead of every revision used, so a kill -9 (no save at exit) never makes the
// next start reuse revisions: before a revision beyond the saved ceiling is used, the ceiling
// moves `block` revisions further and is saved (one fsync per block, on the committing thread).
// A failed save is reported through `on_error` and retried at the next revision.
class RevisionReservation {
 public:
  RevisionReservation(std::string state_file, int64_t block, std::function<void(const absl::Status&)> on_error)
      : state_file_(std::move(state_file)), block_(block), on_error_(std::move(on_error)) {}
  void BeforeRevision(int64_t revision);
  int64_t ceiling() const { return ceiling_; }

 private:
  const std::string state_file_;
  const int64_t block_;
  std::function<void(const absl::Status&)> on_error_;
  int64_t ceiling_ = 0;  // every revision up to here is covered by the file
};

}  // namespace agent::store
