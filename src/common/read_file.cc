#include "common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace agent {

absl::Status ReadWholeFile(const std::string& path, std::string& content) {
  content.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    std::string message = absl::StrCat(path, ": cannot open: ", std::strerror(error));
    if (error == ENOENT || error == ENOTDIR) return absl::NotFoundError(message);
    if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);  // a symlink loop, too many open files, …
  }
  struct stat st;
  // One byte more than the size: the read that finds the end needs no second buffer. The size is
  // a hint only; a file being written may grow or shrink before the read ends.
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) content.reserve(static_cast<size_t>(st.st_size) + 1);
  constexpr size_t kChunk = 1 << 16;
  for (;;) {
    const size_t at = content.size();
    const size_t room = content.capacity() - at;
    content.resize(at + (room > 0 ? room : kChunk));
    const ssize_t n = ::read(fd, content.data() + at, content.size() - at);
    if (n < 0 && errno == EINTR) {
      content.resize(at);
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      content.clear();
      return absl::DataLossError(absl::StrCat(path, ": read failed: ", std::strerror(error)));
    }
    content.resize(at + static_cast<size_t>(n));
    if (n == 0) break;
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace agent
