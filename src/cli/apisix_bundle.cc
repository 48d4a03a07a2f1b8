#include "cli/apisix_bundle.h"

#include "absl/strings/str_cat.h"
#include "apisix/bundle_config.h"
#include "common/logging.h"

namespace agent::cli {

absl::StatusOr<std::unique_ptr<apisix::ApisixRunner>> PrepareApisix(
    const config::SidecarConfig& config, uint16_t etcd_port, std::function<void(bool)> on_serving,
    std::function<void(const absl::Status&)> on_give_up) {
  apisix::BundleConfig bundle;
  bundle.line = config.apisix_version == "2.x" ? apisix::VersionLine::k2x : apisix::VersionLine::k3x;
  bundle.node_listen = config.apisix_port;
  bundle.inbound_port = config.apisix_inbound_port;
  // APISIX runs beside the agent: a wildcard listen address is dialled on loopback.
  std::string host = config.listen.ip;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  bundle.etcd_host = absl::StrCat("http://", host, ":", etcd_port);
  bundle.etcd_prefix = config.etcd_key_prefix;
  bundle.etcd_user = config.etcd_user;
  bundle.etcd_password = config.etcd_password;
  bundle.original_dst_var = config.effective_original_dst_var;
  bundle.original_dst_module = config.original_dst_module_path;
  if (!bundle.original_dst_module.empty()) {
    log::Info("bundle mode: APISIX loads %s: routes are bound to their listeners, ORIGINAL_DST clusters pass through",
              bundle.original_dst_module);
  } else if (bundle.original_dst_var.empty()) {
    log::Warn("bundle mode: no original-destination module (--original-dst-module %s found none): routes are not "
              "bound to their listeners' ports, and pass-through routes (PassthroughCluster, ALLOW_ANY) are dropped; "
              "build nginx-original-dst/ for APISIX's OpenResty and pass its path (docs/interception.md)",
              config.original_dst_module);
  }

  const std::string path = config.apisix_home_path + "/conf/config.yaml";
  auto backup = apisix::InstallBundleConfig(path, apisix::RenderBundleConfig(bundle));
  if (!backup.ok()) return backup.status();
  if (backup->has_value()) {
    log::Warn("bundle mode: %s was not written by the agent; moved it to %s before rendering APISIX's configuration",
              path, **backup);
  }
  log::Info("bundle mode: rendered %s (APISIX %s, etcd %s%s)", path, config.apisix_version, bundle.etcd_host,
            bundle.etcd_prefix);

  apisix::ApisixRunnerOptions options;
  options.bin = config.apisix_bin_path;
  options.home = config.apisix_home_path;
  options.port = config.apisix_port;
  options.stop_timeout = std::chrono::seconds(config.apisix_stop_timeout_seconds);
  return std::make_unique<apisix::ApisixRunner>(options, std::move(on_serving), std::move(on_give_up));
}

}  // namespace agent::cli
