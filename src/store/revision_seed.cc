#include "store/revision_seed.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace agent::store {

absl::StatusOr<int64_t> InitialRevision(const std::string& state_file, int64_t now_unix_ms) {
  int64_t saved = 0;
  if (!state_file.empty()) {
    std::ifstream in(state_file);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      std::string content(absl::StripAsciiWhitespace(text.str()));
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
  const std::string tmp = state_file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(tmp, ": ", std::strerror(errno)));
  const std::string text = absl::StrCat(revision, "\n");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), state_file.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(state_file, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
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
