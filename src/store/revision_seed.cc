#include "store/revision_seed.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/read_file.h"

namespace agent::store {

absl::StatusOr<int64_t> InitialRevision(const std::string& state_file, int64_t now_unix_ms) {
  int64_t saved = 0;
  if (!state_file.empty()) {
    // No file: nothing saved yet. A file that cannot be read is an error, not a fresh start: the
    // revisions it reserved could be handed out again.
    std::string text;
    if (absl::Status read = ReadWholeFile(state_file, text); !read.ok()) {
      if (!absl::IsNotFound(read)) return read;
    } else {
      const absl::string_view content = absl::StripAsciiWhitespace(text);
      if (!absl::SimpleAtoi(content, &saved) || saved < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(state_file, ": not a revision number (\"", content.substr(0, 40), "\")"));
      }
    }
  }
  // +1: the saved revision was used; the next start must be strictly above it.
  return std::max(now_unix_ms, saved + 1);
}

absl::Status SaveRevision(const std::string& state_file, int64_t revision) {
  return WriteFileAtomically(state_file, absl::StrCat(revision, "\n"));
}

void RevisionReservation::BeforeRevision(int64_t revision) {
  if (revision <= ceiling_) return;
  const int64_t ceiling = revision + block_;
  if (absl::Status saved = SaveRevision(state_file_, ceiling); !saved.ok()) {
    on_error_(saved);
    return;
  }
  ceiling_ = ceiling;
}

}  // namespace agent::store
