#include "config/original_dst_module.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace agent::config {

namespace {

// Empty when `path` is a readable regular file, otherwise why not.
std::string Unreadable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  return "";
}

}  // namespace

std::vector<std::string> OriginalDstModuleSearchPath() {
  std::vector<std::string> dirs;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(self.parent_path().string());
  dirs.push_back(kOriginalDstModuleDir);
  return dirs;
}

absl::StatusOr<std::string> ResolveOriginalDstModule(const std::string& flag) {
  if (flag == "none") return std::string();
  if (flag == "auto") {
    for (const std::string& dir : OriginalDstModuleSearchPath()) {
      const std::string path = absl::StrCat(dir, "/", kOriginalDstModuleFile);
      if (Unreadable(path).empty()) return path;
    }
    return std::string();
  }
  if (std::string why = Unreadable(flag); !why.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--original-dst-module: ", flag, ": ", why, " (auto, none, or the path of ",
                                                   kOriginalDstModuleFile, ")"));
  }
  return flag;
}

absl::StatusOr<OriginalDestinations> ResolveOriginalDestinations(const std::string& var_flag,
                                                                 const std::string& module_flag) {
  auto module = ResolveOriginalDstModule(module_flag);  // a path given is checked either way
  if (!module.ok()) return module.status();
  if (!var_flag.empty()) return OriginalDestinations{"", var_flag};
  return OriginalDestinations{*module, module->empty() ? "" : kOriginalDstModuleVar};
}

}  // namespace agent::config
