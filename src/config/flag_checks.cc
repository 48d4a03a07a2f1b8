#include "config/flag_checks.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace agent::config {

absl::Status CheckOneOf(absl::string_view flag, const std::string& value,
                        std::initializer_list<absl::string_view> accepted) {
  std::string listed;
  for (absl::string_view candidate : accepted) {
    if (value == candidate) return absl::OkStatus();
    absl::StrAppend(&listed, listed.empty() ? "" : ", ", candidate);
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, ": unknown value \"", value, "\" (accepted: ", listed, ")"));
}

absl::Status CheckReadable(std::initializer_list<std::pair<absl::string_view, const std::string*>> files) {
  for (const auto& [flag, path] : files) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", *path, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPort(absl::string_view flag, int port) {
  if (port >= 1 && port <= 65535) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", port, " is not a port"));
}

std::string FindOnPath(absl::string_view binary) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", binary);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace agent::config
