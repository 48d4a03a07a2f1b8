#include "cli/apisix_bundle.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "apisix/bundle_config.h"
#include "apisix/config_merge.h"
#include "common/logging.h"
#include "config/mesh_front.h"
#include "iptables/host.h"

namespace agent::cli {

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// nginx's `user` value for --apisix-user (a name or uid, as `iptables --apisix-user` reads it):
// "name group" — nginx would otherwise look for a group of the user's name, which Debian's nobody
// has not. nginx takes names only, so the user needs a passwd entry.
absl::StatusOr<std::string> WorkerUser(const std::string& user) {
  auto ids = iptables::LookupUser(user);
  if (!ids.ok()) return ids.status();
  const passwd* entry = ::getpwuid(ids->uid);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("--apisix-user: no such user \"", user, "\""));
  const group* primary = ::getgrgid(entry->pw_gid);
  return primary != nullptr ? absl::StrCat(entry->pw_name, " ", primary->gr_name) : std::string(entry->pw_name);
}

// The operator's settings: --apisix-config-base, else the config.yaml found in the home (about to
// be moved to config.yaml.operator), else config.yaml.operator from an earlier start.
absl::StatusOr<std::pair<std::string, std::string>> OperatorBase(const config::SidecarConfig& config,
                                                                 const std::string& path) {
  if (!config.apisix_config_base.empty()) {
    std::ifstream in(config.apisix_config_base);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("--apisix-config-base: cannot read ", config.apisix_config_base));
    return std::make_pair(config.apisix_config_base, ReadFile(config.apisix_config_base));
  }
  if (std::ifstream(path) && !apisix::IsOwnedConfig(path)) return std::make_pair(path, ReadFile(path));
  const std::string kept = apisix::OperatorConfigPath(path);
  if (std::ifstream(kept)) return std::make_pair(kept, ReadFile(kept));
  return std::make_pair(std::string(), std::string());
}

}  // namespace

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
  bundle.access_log = config.apisix_access_log == "stdout" ? "/dev/stdout" : config.apisix_access_log;
  if (config.mesh_front_enabled) {
    apisix::BundleConfig::MeshFront front;
    front.stream_module = config.stream_module_path;
    front.dir = config.mesh_front_dir_path;
    front.table = config.mesh_front_table_path;
    front.detect_timeout_ms = config.protocol_detection_timeout_ms;
    front.http_direct_port = config::kFrontHttpDirectPort;
    front.stream_port = config::kFrontStreamPort;
    bundle.mesh_front = front;
    log::Info("bundle mode: mesh front on: the capture ports %d and %d decide per connection between APISIX's HTTP "
              "routes, its stream routes (TCP), the original destination and closing (table %s)",
              config.apisix_port, config.apisix_inbound_port, front.table);
  }
  if (::geteuid() == 0) {
    // Only a root master can switch its workers' user; otherwise they run as the agent's.
    auto user = WorkerUser(config.apisix_user);
    if (!user.ok()) return user.status();
    bundle.worker_user = *user;
    if (bundle.mesh_front) {
      // The front's sockets: reachable by APISIX's workers only (a forged PROXY header could name
      // any destination). The agent, as root, still writes the table into it.
      auto ids = iptables::LookupUser(config.apisix_user);
      if (!ids.ok() || ::chown(config.mesh_front_dir_path.c_str(), ids->uid, ids->gid) != 0) {
        return absl::FailedPreconditionError(absl::StrCat("mesh front: cannot give ", config.mesh_front_dir_path,
                                                          " to --apisix-user ", config.apisix_user));
      }
    }
  } else {
    log::Warn("bundle mode: the agent is not root, so APISIX's workers run as its own user (uid %d), not as "
              "--apisix-user %s: the interception must exempt uid %d",
              ::geteuid(), config.apisix_user, ::geteuid());
  }
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
  auto base = OperatorBase(config, path);
  if (!base.ok()) return base.status();
  const std::string required = apisix::RenderBundleConfig(bundle);
  std::vector<std::string> conflicts;
  auto merged = apisix::MergeApisixConfig(required, base->second, required.substr(0, required.find('\n') + 1),
                                          &conflicts);
  if (!merged.ok()) return absl::InvalidArgumentError(absl::StrCat(base->first, ": ", merged.status().message()));
  for (const auto& conflict : conflicts) log::Warn("bundle mode: %s: %s", base->first, conflict);
  auto moved = apisix::InstallBundleConfig(path, *merged);
  if (!moved.ok()) return moved.status();
  if (moved->has_value()) {
    log::Warn("bundle mode: %s was not written by the agent; moved it to %s%s", path, **moved,
              **moved == apisix::OperatorConfigPath(path) && config.apisix_config_base.empty()
                  ? " and merged it under the agent's keys (it stays the base of every start)"
                  : "");
  }
  log::Info("bundle mode: rendered %s (APISIX %s, etcd %s%s%s%s)", path, config.apisix_version, bundle.etcd_host,
            bundle.etcd_prefix, base->first.empty() ? "" : ", operator settings from ", base->first);

  apisix::ApisixRunnerOptions options;
  options.home = config.apisix_home_path;
  // As APISIX's container entrypoint: init renders nginx.conf, init_etcd writes its directories
  // into etcd (the agent), then nginx itself in the foreground.
  options.prepare = {{config.apisix_bin_path, "init"}, {config.apisix_bin_path, "init_etcd"}};
  options.after_prepare = [path] { apisix::RecordOwned(path); };  // init may rewrite it (admin key)
  options.command = {config.openresty_bin, "-p", config.apisix_home_path, "-c",
                     config.apisix_home_path + "/conf/nginx.conf", "-g", "daemon off;"};
  options.stale_files = {config.apisix_home_path + "/logs/worker_events.sock",
                         config.apisix_home_path + "/conf/config_listen.sock"};
  if (bundle.mesh_front) {
    for (const char* socket : {apisix::kFrontHttpOutboundSocket, apisix::kFrontHttpInboundSocket,
                               apisix::kFrontPassthroughSocket}) {
      options.stale_files.push_back(absl::StrCat(config.mesh_front_dir_path, "/", socket));
    }
  }
  options.port = config.apisix_port;
  options.stop_timeout = std::chrono::seconds(config.apisix_stop_timeout_seconds);
  if (config.apisix_access_log != "stdout") options.on_access_line = [](absl::string_view line) {
    if (!line.empty()) log::Info("apisix: %s", line);  // a file or off: whatever still reaches stdout
  };
  return std::make_unique<apisix::ApisixRunner>(options, std::move(on_serving), std::move(on_give_up));
}

}  // namespace agent::cli
