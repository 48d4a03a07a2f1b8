#pragma once

#include <string>

#include "absl/status/status.h"

namespace agent {

// The whole of a file, read in one go into `content` (sized once from fstat, no stream buffers).
// NotFound only when there is no such file: a caller may take that as "nothing saved" or "gone",
// never an unreadable one (PermissionDenied, or FailedPrecondition for other reasons it cannot be
// opened); DataLoss when a read fails midway. The message names the path and the system's reason.
absl::Status ReadWholeFile(const std::string& path, std::string& content);

}  // namespace agent
