#pragma once

#include <string>

#include "absl/status/status.h"

namespace agent {

// The whole of a file, read in one go into `content` (sized once from fstat, no stream buffers).
// NotFound when it cannot be opened (missing, unreadable), DataLoss when a read fails midway; the
// message names the path and the system's reason.
absl::Status ReadWholeFile(const std::string& path, std::string& content);

}  // namespace agent
