// Writing a file that readers may open at any moment: the content goes to `<path>.tmp`, is
// flushed to disk, and is renamed over `path` — a reader sees the old file or the new one, never
// a part.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace agent {

absl::Status WriteFileAtomically(const std::string& path, const std::string& content, int mode = 0644);

}  // namespace agent
