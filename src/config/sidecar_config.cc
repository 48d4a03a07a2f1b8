#include "absl/strings/string_view.h"
#include "config/sidecar_config.h"

#include "config/mesh_front.h"
#include "config/flag_checks.h"
#include "config/original_dst_module.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace agent::config {

void RegisterSidecarFlags(CLI::App& app, SidecarConfig& c) {
  app.add_option("--provisioner", c.provisioner, "where xDS comes from: xds-v3-file | xds-v3-grpc")
      ->capture_default_str();
  app.add_option("--xds-watch-files", c.xds_watch_files,
                 "xDS DiscoveryResponse JSON files or directories to watch (repeatable, comma-separated)")
      ->delimiter(',');
  app.add_option("--xds-config-source", c.xds_config_source,
                 "management server for xds-v3-grpc, grpc://host:port");
  app.add_option("--grpc-listen", c.grpc_listen, "etcd v3 API address (gRPC and HTTP on one port), IP:port")
      ->capture_default_str();
  app.add_option("--etcd-key-prefix", c.etcd_key_prefix, "key prefix APISIX reads its configuration under")
      ->capture_default_str();
  app.add_option("--run-mode", c.run_mode, "standalone | bundle")->capture_default_str();
  app.add_option("--apisix-bin-path", c.apisix_bin_path, "APISIX executable (bundle mode)")->capture_default_str();
  app.add_option("--apisix-home-path", c.apisix_home_path, "APISIX home directory (bundle mode)")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "debug | info | warn | error")->capture_default_str();
  app.add_option("--log-output", c.log_output, "stderr | stdout | a file path")->capture_default_str();
  app.add_option("--apisix-version", c.apisix_version, "APISIX line whose etcd directories are served: 2.x | 3.x")
      ->capture_default_str();
  app.add_option("--etcd-user", c.etcd_user, "with --etcd-password: clients must authenticate, as with etcd auth");
  app.add_option("--etcd-password", c.etcd_password, "the password for --etcd-user");
  app.add_option("--max-request-bytes", c.max_request_bytes, "largest etcd request accepted (etcd's default)")
      ->capture_default_str();
  app.add_option("--max-history-bytes", c.max_history_bytes,
                 "watch history kept in memory (keys and values); a watcher that falls further behind gets etcd's "
                 "compaction answer and re-reads")
      ->capture_default_str();
  app.add_option("--max-watches-per-stream", c.max_watches_per_stream,
                 "watches one gRPC Watch call or HTTP /v3/watch response may hold; a create past it is answered "
                 "created + canceled with the reason")
      ->capture_default_str();
  app.add_option("--max-watches", c.max_watches, "watches all etcd clients together may hold")->capture_default_str();
  app.add_option("--idle-timeout", c.idle_timeout_seconds,
                 "seconds after which an etcd client connection with nothing in flight is closed (an open watch is "
                 "in flight); 0 = never")
      ->capture_default_str();
  app.add_option("--original-dst-var", c.original_dst_var,
                 "nginx variable holding a connection's original destination (ip:port), e.g. original_dst; when set, "
                 "routes only match connections to the listeners that use them and ORIGINAL_DST clusters pass "
                 "through (bundle mode sets it when it loads the original-destination module)");
  app.add_option("--original-dst-module", c.original_dst_module,
                 "bundle mode: auto | none | the path of ngx_http_original_dst_module.so for APISIX to load (auto: "
                 "beside the agent, then /usr/local/lib/apisix-mesh-agent)")
      ->capture_default_str();
  app.add_option("--apisix-user", c.apisix_user,
                 "bundle mode: the user nginx's workers run as (nginx `user`), the one `iptables --apisix-user` "
                 "exempts from capture")
      ->capture_default_str();
  app.add_option("--apisix-config-base", c.apisix_config_base,
                 "bundle mode: the operator's APISIX config.yaml (plugins, nginx_config, ...), merged under the keys "
                 "the agent sets; default: the config.yaml found in the APISIX home, kept as config.yaml.operator");
  app.add_option("--apisix-openresty-path", c.apisix_openresty_path,
                 "bundle mode: the nginx binary run in the foreground; auto: `openresty` on PATH, then "
                 "/usr/local/openresty/bin/openresty, as APISIX's CLI finds it")
      ->capture_default_str();
  app.add_option("--apisix-access-log", c.apisix_access_log,
                 "bundle mode: stdout (the agent forwards each line to its stdout) | off | a file nginx writes")
      ->capture_default_str();
  app.add_option("--drain-duration", c.drain_seconds,
                 "on SIGTERM or POST /quitquitquit: seconds not ready but still serving before APISIX quits (a "
                 "second SIGTERM skips the wait); 0 = none")
      ->capture_default_str();
  app.add_option("--mesh-front", c.mesh_front,
                 "auto | on | off: every captured connection enters nginx's stream subsystem, which sends HTTP to "
                 "APISIX's routes and TCP to stream routes, the original destination or nowhere, as the xDS "
                 "listeners say (docs/interception.md); auto: on in bundle mode when "
                 "ngx_stream_original_dst_module.so is beside the http module, off in standalone mode")
      ->capture_default_str();
  app.add_option("--mesh-front-dir", c.mesh_front_dir,
                 "standalone mode with --mesh-front on: the directory of the front's table (written by the agent) "
                 "and of its unix sockets (APISIX's); bundle mode uses <apisix home>/mesh-front");
  app.add_option("--protocol-detection-timeout-ms", c.protocol_detection_timeout_ms,
                 "mesh front: how long a destination served by both HTTP and TCP waits for the client's first bytes "
                 "before treating the connection as TCP (server-first protocols send nothing)")
      ->capture_default_str();
  app.add_option("--xds-ca-file", c.xds_ca_file, "grpcs://: CA bundle to verify the control plane (default: system roots)");
  app.add_option("--xds-client-cert", c.xds_client_cert, "grpcs://: client certificate (PEM) for mutual TLS");
  app.add_option("--xds-client-key", c.xds_client_key, "grpcs://: client key (PEM) for mutual TLS");
  app.add_option("--xds-token-file", c.xds_token_file,
                 "grpcs://: file with a bearer token sent to the control plane, re-read on every connection "
                 "(e.g. /var/run/secrets/tokens/istio-token)");
  app.add_option("--xds-protocol", c.xds_protocol,
                 "xds-v3-grpc: sotw (StreamAggregatedResources) | delta (DeltaAggregatedResources)")
      ->capture_default_str();
  app.add_option("--etcd-sink", c.etcd_sink,
                 "also write the translation into this external etcd cluster (comma-separated http(s)://host:port "
                 "of its members), for APISIX instances elsewhere; see docs/deployment.md")
      ->delimiter(',');
  app.add_option("--etcd-sink-owner", c.etcd_sink_owner,
                 "etcd sink: the labels.managed-by value marking the keys this agent (and its replicas) own; agents "
                 "with one owner elect one writer")
      ->capture_default_str();
  app.add_option("--etcd-sink-user", c.etcd_sink_user, "etcd sink: user, with --etcd-sink-password (etcd auth)");
  app.add_option("--etcd-sink-password", c.etcd_sink_password, "etcd sink: the password of --etcd-sink-user");
  app.add_option("--etcd-sink-cacert", c.etcd_sink_cacert, "etcd sink, https://: CA bundle of the members (PEM)");
  app.add_option("--etcd-sink-cert", c.etcd_sink_cert, "etcd sink, https://: client certificate (PEM)");
  app.add_option("--etcd-sink-key", c.etcd_sink_key, "etcd sink, https://: client key (PEM)");
  app.add_option("--etcd-sink-lease-ttl", c.etcd_sink_lease_ttl_seconds,
                 "etcd sink: seconds the writer's election lease lives without keep-alives (a standby takes over "
                 "this long after the writer dies)")
      ->capture_default_str();
  app.add_option("--etcd-sink-timeout-ms", c.etcd_sink_timeout_ms,
                 "etcd sink: how long one request waits for a member before the next member is tried")
      ->capture_default_str();
  app.add_option("--etcd-sink-resync", c.etcd_sink_resync_seconds,
                 "etcd sink: seconds between the writer's diffs of the cluster against the desired state (owned keys "
                 "deleted or changed by others are rewritten); 0 = only on election, reconnect and failures")
      ->capture_default_str();
  app.add_option("--max-txn-ops", c.max_txn_ops,
                 "etcd sink: operations per transaction (the cluster's --max-txn-ops); larger changes are split, "
                 "upstreams written before the routes that use them")
      ->capture_default_str();
  app.add_option("--ready-timeout", c.ready_timeout_seconds,
                 "seconds to wait for the first complete xDS configuration before reporting ready anyway "
                 "(and, in bundle mode, starting APISIX) with a warning")
      ->capture_default_str();
  app.add_option("--health-listen", c.health_listen,
                 "address of /healthz/live and /healthz/ready for kubelet probes, IP:port (\"\" turns it off)")
      ->capture_default_str();
  app.add_option("--admin-listen", c.admin_listen,
                 "the admin endpoint, IP:port: /stats/prometheus, /config_dump, /syncz, /logging (\"\" turns it off)")
      ->capture_default_str();
  app.add_flag("--admin-allow-remote", c.admin_allow_remote,
               "let the admin endpoint answer peers that are not on loopback (it shows the whole mesh configuration)");
  app.add_option("--log-format", c.log_format, "text | json (one object per line: time, level, logger, message)")
      ->capture_default_str();
  app.add_option("--apisix-port", c.apisix_port, "bundle mode: APISIX's HTTP port for captured outbound traffic")
      ->capture_default_str();
  app.add_option("--apisix-inbound-capture-port", c.apisix_inbound_port,
                 "bundle mode: APISIX's port for captured inbound traffic")
      ->capture_default_str();
  app.add_option("--apisix-stop-timeout", c.apisix_stop_timeout_seconds,
                 "bundle mode: seconds APISIX gets to quit gracefully before it is killed")
      ->capture_default_str();
  app.add_option("--revision-file", c.revision_file,
                 "keeps the last etcd revision across restarts so it never goes backwards (default: clock only)");
}


absl::Status ResolveMeshFront(SidecarConfig& c) {
  if (auto s = CheckOneOf("--mesh-front", c.mesh_front, {"auto", "on", "off"}); !s.ok()) return s;
  if (c.protocol_detection_timeout_ms < 1 || c.protocol_detection_timeout_ms > 60000) {
    return absl::InvalidArgumentError("--protocol-detection-timeout-ms: must be between 1 and 60000");
  }
  c.mesh_front_enabled = false;
  if (c.mesh_front == "off") return absl::OkStatus();
  if (c.run_mode == kRunModeBundle) {
    const std::string stream = c.original_dst_module_path.empty()
                                   ? std::string()
                                   : std::filesystem::path(c.original_dst_module_path).replace_filename(kStreamModuleFile).string();
    const bool found = !stream.empty() && ::access(stream.c_str(), R_OK) == 0;
    if (!found) {
      if (c.mesh_front == "on") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--mesh-front on: needs nginx-original-dst's ", kStreamModuleFile, " beside ",
            c.original_dst_module_path.empty() ? std::string("the http module (--original-dst-module found none)")
                                               : c.original_dst_module_path));
      }
      return absl::OkStatus();
    }
    c.mesh_front_enabled = true;
    c.stream_module_path = stream;
    c.mesh_front_dir_path = absl::StrCat(c.apisix_home_path, "/", kMeshFrontDir);
    c.mesh_front_table_path = absl::StrCat(c.mesh_front_dir_path, "/", kFrontTableFile);
    return absl::OkStatus();
  }
  if (c.mesh_front == "auto") return absl::OkStatus();
  if (c.mesh_front_dir.empty()) {
    return absl::InvalidArgumentError("--mesh-front on (standalone): --mesh-front-dir names the directory of the "
                                      "front's table and sockets");
  }
  if (c.effective_original_dst_var.empty()) {
    return absl::InvalidArgumentError("--mesh-front on (standalone): needs --original-dst-var (the front restores "
                                      "original destinations; routes are bound to them)");
  }
  c.mesh_front_enabled = true;
  c.mesh_front_dir_path = c.mesh_front_dir;
  c.mesh_front_table_path = absl::StrCat(c.mesh_front_dir, "/", kFrontTableFile);
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindOpenresty(const std::string& flag_value) {
  if (flag_value != "auto") {
    if (::access(flag_value.c_str(), X_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("--apisix-openresty-path: ", flag_value, ": ", std::strerror(errno)));
    }
    return flag_value;
  }
  if (std::string on_path = FindOnPath("openresty"); !on_path.empty()) return on_path;
  for (const char* candidate : {"/usr/local/openresty/bin/openresty", "/usr/local/openresty-debug/bin/openresty"}) {
    if (::access(candidate, X_OK) == 0) return std::string(candidate);
  }
  return absl::InvalidArgumentError(
      "--apisix-openresty-path auto: no openresty on PATH, in /usr/local/openresty/bin or "
      "/usr/local/openresty-debug/bin; name APISIX's nginx binary");
}

namespace {

// The endpoints' form is the client's to check (sink/etcd_client.h); here what needs no network.
absl::Status CheckEtcdSink(const SidecarConfig& c) {
  const bool sink = !c.etcd_sink.empty();
  if (!sink && (!c.etcd_sink_user.empty() || !c.etcd_sink_cacert.empty() || !c.etcd_sink_cert.empty())) {
    return absl::InvalidArgumentError("--etcd-sink-user/--etcd-sink-cacert/--etcd-sink-cert need --etcd-sink");
  }
  for (const std::string& url : c.etcd_sink) {
    if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--etcd-sink: \"", url, "\" is not http://host:port or https://host:port"));
    }
  }
  if (c.etcd_sink_owner.empty() || c.etcd_sink_owner.size() > 63 ||
      c.etcd_sink_owner.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        "--etcd-sink-owner: 1 to 63 letters, digits, '.', '_' or '-' (an APISIX label value and a key segment)");
  }
  if (c.etcd_sink_user.empty() != c.etcd_sink_password.empty()) {
    return absl::InvalidArgumentError("--etcd-sink-user and --etcd-sink-password go together: give both or neither");
  }
  if (c.etcd_sink_cert.empty() != c.etcd_sink_key.empty()) {
    return absl::InvalidArgumentError("--etcd-sink-cert and --etcd-sink-key go together");
  }
  if (auto s = CheckReadable({{"--etcd-sink-cacert", &c.etcd_sink_cacert},
                               {"--etcd-sink-cert", &c.etcd_sink_cert},
                               {"--etcd-sink-key", &c.etcd_sink_key}});
      !s.ok()) {
    return s;
  }
  if (c.etcd_sink_lease_ttl_seconds < 2 || c.etcd_sink_lease_ttl_seconds > 3600) {
    return absl::InvalidArgumentError("--etcd-sink-lease-ttl: must be between 2 and 3600 seconds");
  }
  if (c.etcd_sink_timeout_ms < 100 || c.etcd_sink_timeout_ms > 600000) {
    return absl::InvalidArgumentError("--etcd-sink-timeout-ms: must be between 100 and 600000");
  }
  if (c.etcd_sink_resync_seconds < 0 || c.etcd_sink_resync_seconds > 86400) {
    return absl::InvalidArgumentError("--etcd-sink-resync: must be between 0 (never) and 86400 seconds");
  }
  if (c.max_txn_ops < 2 || c.max_txn_ops > 100000) {
    return absl::InvalidArgumentError(
        "--max-txn-ops: must be between 2 and 100000 (one operation of each transaction is the sink's marker)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(SidecarConfig& c) {
  if (auto s = CheckOneOf("--provisioner", c.provisioner, {kProvisionerFile, kProvisionerGrpc}); !s.ok()) return s;
  if (auto s = CheckOneOf("--run-mode", c.run_mode, {kRunModeStandalone, kRunModeBundle}); !s.ok()) return s;
  if (auto s = CheckOneOf("--log-level", c.log_level, {"debug", "info", "warn", "error"}); !s.ok()) return s;
  if (auto s = CheckOneOf("--apisix-version", c.apisix_version, {"2.x", "3.x"}); !s.ok()) return s;
  if (c.etcd_user.empty() != c.etcd_password.empty()) {
    return absl::InvalidArgumentError("--etcd-user and --etcd-password go together: give both or neither");
  }
  if (c.max_request_bytes < 1024 || c.max_request_bytes > 64 * 1024 * 1024) {
    return absl::InvalidArgumentError("--max-request-bytes: must be between 1024 and 67108864");
  }
  if (c.max_history_bytes < 1024 * 1024 || c.max_history_bytes > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError("--max-history-bytes: must be between 1048576 and 4294967296");
  }
  if (c.max_watches_per_stream < 1 || c.max_watches_per_stream > 1000000) {
    return absl::InvalidArgumentError("--max-watches-per-stream: must be between 1 and 1000000");
  }
  if (c.idle_timeout_seconds > 86400) {
    return absl::InvalidArgumentError("--idle-timeout: must be between 0 (never) and 86400 seconds");
  }
  if (c.max_watches < c.max_watches_per_stream || c.max_watches > 10000000) {
    return absl::InvalidArgumentError("--max-watches: must be at least --max-watches-per-stream and at most 10000000");
  }

  if (c.provisioner == kProvisionerGrpc) {
    if (c.xds_config_source.empty()) {
      return absl::InvalidArgumentError("--xds-config-source option is required with --provisioner xds-v3-grpc");
    }
    c.xds_tls = absl::StartsWith(c.xds_config_source, "grpcs://");
    if (!c.xds_tls && !absl::StartsWith(c.xds_config_source, "grpc://")) {
      return absl::InvalidArgumentError(absl::StrCat("--xds-config-source: \"", c.xds_config_source,
                                                     "\" is not grpc://host:port or grpcs://host:port"));
    }
    c.xds_target = c.xds_config_source.substr(c.xds_tls ? strlen("grpcs://") : strlen("grpc://"));
    if (c.xds_client_cert.empty() != c.xds_client_key.empty()) {
      return absl::InvalidArgumentError("--xds-client-cert and --xds-client-key go together");
    }
    if (!c.xds_tls && (!c.xds_ca_file.empty() || !c.xds_client_cert.empty() || !c.xds_token_file.empty())) {
      return absl::InvalidArgumentError(
          "--xds-ca-file, --xds-client-cert/key and --xds-token-file need a grpcs:// --xds-config-source");
    }
    if (auto s = CheckReadable({{"--xds-ca-file", &c.xds_ca_file},
                                 {"--xds-client-cert", &c.xds_client_cert},
                                 {"--xds-client-key", &c.xds_client_key},
                                 {"--xds-token-file", &c.xds_token_file}});
        !s.ok()) {
      return s;
    }
    if (c.xds_target.empty() || c.xds_target.find(':') == std::string::npos || c.xds_target.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--xds-config-source: \"", c.xds_config_source,
                                                     "\" is not grpc://host:port"));
    }
  }
  if (auto s = CheckOneOf("--xds-protocol", c.xds_protocol, {"sotw", "delta"}); !s.ok()) return s;
  if (auto s = CheckEtcdSink(c); !s.ok()) return s;
  if (c.ready_timeout_seconds < 1 || c.ready_timeout_seconds > 3600) {
    return absl::InvalidArgumentError("--ready-timeout: must be between 1 and 3600 seconds");
  }
  // The module is bundle mode's to load; in standalone mode a path given is still checked.
  auto original = ResolveOriginalDestinations(c.original_dst_var, c.original_dst_module);
  if (!original.ok()) return original.status();
  if (c.run_mode != kRunModeBundle) *original = OriginalDestinations{"", c.original_dst_var};
  c.original_dst_module_path = original->module_path;
  c.effective_original_dst_var = original->var;
  if (auto s = ResolveMeshFront(c); !s.ok()) return s;
  if (auto s = CheckPort("--apisix-port", c.apisix_port); !s.ok()) return s;
  if (auto s = CheckPort("--apisix-inbound-capture-port", c.apisix_inbound_port); !s.ok()) return s;
  if (c.apisix_stop_timeout_seconds < 1 || c.apisix_stop_timeout_seconds > 600) {
    return absl::InvalidArgumentError("--apisix-stop-timeout: must be between 1 and 600 seconds");
  }
  if (c.drain_seconds < 0 || c.drain_seconds > 3600) {
    return absl::InvalidArgumentError("--drain-duration: must be between 0 and 3600 seconds");
  }
  if (c.apisix_user.empty()) return absl::InvalidArgumentError("--apisix-user: must name a user (or a numeric uid)");
  if (c.apisix_access_log.empty()) {
    return absl::InvalidArgumentError("--apisix-access-log: stdout, off, or a file path");
  }
  if (c.apisix_port == c.apisix_inbound_port) {
    return absl::InvalidArgumentError("--apisix-port and --apisix-inbound-capture-port must differ");
  }
  if (c.run_mode == kRunModeBundle) {
    struct stat st;
    if (::stat(c.apisix_home_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat("--apisix-home-path: ", c.apisix_home_path, " is not a directory"));
    }
    if (::access(c.apisix_bin_path.c_str(), X_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--apisix-bin-path: ", c.apisix_bin_path, ": ", std::strerror(errno)));
    }
    auto openresty = FindOpenresty(c.apisix_openresty_path);
    if (!openresty.ok()) return openresty.status();
    c.openresty_bin = *openresty;
    if (!c.apisix_config_base.empty() && ::access(c.apisix_config_base.c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--apisix-config-base: ", c.apisix_config_base, ": ", std::strerror(errno)));
    }
  }

  if (c.provisioner == kProvisionerFile && c.xds_watch_files.empty()) {
    return absl::InvalidArgumentError("--xds-watch-files: at least one file or directory is required with --provisioner xds-v3-file");
  }
  for (const std::string& path : c.xds_watch_files) {
    struct stat st;
    if (path.empty()) return absl::InvalidArgumentError("--xds-watch-files: empty path in the list");
    if (::stat(path.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("--xds-watch-files: ", path, ": ", std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--xds-watch-files: ", path, ": neither a regular file nor a directory"));
    }
  }

  auto listen = ParseListenAddress(c.grpc_listen);
  if (!listen.ok()) return absl::InvalidArgumentError(absl::StrCat("--grpc-listen: ", listen.status().message()));
  c.listen = *listen;
  if (!c.health_listen.empty()) {
    auto health = ParseListenAddress(c.health_listen);
    if (!health.ok()) return absl::InvalidArgumentError(absl::StrCat("--health-listen: ", health.status().message()));
    c.health = *health;
  }
  if (!c.admin_listen.empty()) {
    auto admin = ParseListenAddress(c.admin_listen);
    if (!admin.ok()) return absl::InvalidArgumentError(absl::StrCat("--admin-listen: ", admin.status().message()));
    c.admin = *admin;
  }
  if (auto s = CheckOneOf("--log-format", c.log_format, {"text", "json"}); !s.ok()) return s;

  if (!absl::StartsWith(c.etcd_key_prefix, "/") || c.etcd_key_prefix.size() < 2 ||
      absl::EndsWith(c.etcd_key_prefix, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("--etcd-key-prefix: \"", c.etcd_key_prefix,
                                                   "\" must start with '/', not end with '/', and not be \"/\""));
  }
  return absl::OkStatus();
}

}  // namespace agent::config
