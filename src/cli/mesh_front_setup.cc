#include "cli/mesh_front_setup.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "apisix/bundle_config.h"
#include "common/atomic_file.h"
#include "common/logging.h"
#include "config/mesh_front.h"

namespace agent::cli {

absl::StatusOr<std::function<void(const std::string&)>> PrepareMeshFront(const config::SidecarConfig& config,
                                                                          translate::TranslateOptions& options) {
  if (!config.mesh_front_enabled) return std::function<void(const std::string&)>();
  std::error_code ec;
  std::filesystem::create_directories(config.mesh_front_dir_path, ec);
  if (ec || ::chmod(config.mesh_front_dir_path.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("mesh front: cannot create ", config.mesh_front_dir_path, ": ",
                                                      ec ? ec.message() : std::strerror(errno)));
  }
  options.mesh_front = true;
  options.http_outbound_socket = absl::StrCat(config.mesh_front_dir_path, "/", apisix::kFrontHttpOutboundSocket);
  options.http_inbound_socket = absl::StrCat(config.mesh_front_dir_path, "/", apisix::kFrontHttpInboundSocket);
  options.internal_ports = {config::kFrontHttpDirectPort, config::kFrontStreamPort};
  return std::function<void(const std::string&)>([path = config.mesh_front_table_path](const std::string& table) {
    if (auto s = WriteFileAtomically(path, table); !s.ok()) {
      log::Error("mesh front: %s (nginx keeps the previous table)", s.message());
      return;
    }
    log::Info("mesh front: wrote %s (%d destinations)", path, std::count(table.begin(), table.end(), '\n') - 1);
  });
}

}  // namespace agent::cli
