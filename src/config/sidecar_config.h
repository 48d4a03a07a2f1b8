// The `sidecar` sub-command's settings: flag registration (names and defaults of the original Go
// agent) and validation that runs before anything starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "config/iptables_config.h"
#include "config/listen_address.h"

namespace CLI {
class App;
}

namespace agent::config {

inline constexpr char kProvisionerFile[] = "xds-v3-file";
inline constexpr char kProvisionerGrpc[] = "xds-v3-grpc";
inline constexpr char kRunModeStandalone[] = "standalone";
inline constexpr char kRunModeBundle[] = "bundle";

struct SidecarConfig {
  std::string provisioner = kProvisionerFile;
  std::vector<std::string> xds_watch_files;
  std::string xds_config_source;
  std::string grpc_listen = "127.0.0.1:2379";
  std::string etcd_key_prefix = "/apisix";
  std::string run_mode = kRunModeStandalone;
  std::string apisix_bin_path = "/usr/local/bin/apisix";
  std::string apisix_home_path = "/usr/local/apisix";
  std::string log_level = "info";
  std::string log_output = "stderr";
  // Beyond the original agent:
  std::string apisix_version = "3.x";  // which APISIX line's directory names to serve: 2.x | 3.x
  std::string etcd_user;              // with etcd_password: require etcd auth tokens from clients
  std::string etcd_password;
  uint64_t max_request_bytes = 1572864;  // etcd's default
  uint64_t max_history_bytes = 32 * 1024 * 1024;  // watch history kept in memory
  uint64_t max_watches_per_stream = 10000;        // one gRPC Watch call or HTTP /v3/watch response
  uint64_t max_watches = 50000;                   // all clients together
  uint64_t idle_timeout_seconds = 300;            // etcd connections with nothing in flight; 0 = never
  std::string revision_file;              // where the last revision is kept across restarts
  std::string original_dst_var;           // nginx variable with the original destination: binds routes to listeners
  std::string original_dst_module = "auto";  // bundle mode: auto | none | path of ngx_http_original_dst_module.so
  std::string xds_ca_file;                // grpcs://: CA bundle (default: the system roots)
  std::string xds_client_cert;            // grpcs://: client certificate and key for mutual TLS
  std::string xds_client_key;
  std::string xds_token_file;             // grpcs://: bearer token file (projected service-account token)
  std::string xds_protocol = "sotw";      // sotw | delta: which ADS method to use
  int ready_timeout_seconds = 60;         // ready (and APISIX started) at the latest this long after start
  std::string health_listen = "127.0.0.1:15021";  // /healthz/live and /healthz/ready; "" = off
  std::string admin_listen = "127.0.0.1:15000";   // metrics, config dump, sync status, log level; "" = off
  bool admin_allow_remote = false;                 // answer admin requests from peers not on loopback
  std::string log_format = "text";                 // text | json
  // Bundle mode: APISIX's own listeners, which the iptables rules redirect to.
  int apisix_port = 9080;                 // outbound capture (node_listen)
  int apisix_inbound_port = 9081;         // inbound capture
  int apisix_stop_timeout_seconds = 10;   // QUIT, then KILL after this long
  std::string apisix_user = kDefaultApisixUser;  // nginx's worker user (what the interception exempts)
  std::string apisix_config_base;         // the operator's APISIX config.yaml, merged under the agent's keys
  std::string apisix_openresty_path = "auto";    // nginx's binary; auto: as APISIX's CLI finds it
  std::string apisix_access_log = "stdout";      // stdout (forwarded by the agent) | off | a file path
  int drain_seconds = 5;                  // SIGTERM: not ready, still serving, for this long
  // The mesh front (TCP through the mesh, HTTP told from TCP on the capture ports): auto | on | off.
  std::string mesh_front = "auto";
  std::string mesh_front_dir;             // standalone: the front's table and sockets (bundle: in the home)
  int protocol_detection_timeout_ms = 1000;  // how long the front waits for a client's first bytes
  // The etcd sink: also write the translation into an external etcd cluster (docs/deployment.md).
  std::vector<std::string> etcd_sink;     // http(s)://host:port of its members; empty = off
  std::string etcd_sink_owner = "apisix-mesh-agent";  // labels.managed-by of what it writes; election scope
  std::string etcd_sink_user;             // with etcd_sink_password: the cluster's auth
  std::string etcd_sink_password;
  std::string etcd_sink_cacert;           // https://: CA bundle of the members' certificates
  std::string etcd_sink_cert;             // https://: client certificate and key (--client-cert-auth)
  std::string etcd_sink_key;
  int etcd_sink_lease_ttl_seconds = 10;   // the writer's election lease: how soon a standby takes over
  int etcd_sink_timeout_ms = 5000;        // per request to one member (etcdctl's --command-timeout)
  int etcd_sink_resync_seconds = 300;     // the writer's periodic diff against the cluster; 0 = never
  uint64_t max_txn_ops = 128;             // operations per transaction (etcd's --max-txn-ops)

  // Filled by Validate().
  ListenAddress listen;
  std::optional<ListenAddress> health;  // unset when --health-listen is ""
  std::optional<ListenAddress> admin;   // unset when --admin-listen is ""
  std::string xds_target;  // host:port of --xds-config-source
  bool xds_tls = false;    // grpcs://
  // Original destinations: the module bundle mode loads ("" = none), and the variable routes and
  // the pass-through read (--original-dst-var, else the module's; "" = not available).
  std::string original_dst_module_path;
  std::string effective_original_dst_var;
  std::string openresty_bin;  // bundle mode: --apisix-openresty-path resolved
  // The mesh front: on or off, the stream module bundle mode loads, its directory (the table the
  // agent writes, the sockets of its private hops).
  bool mesh_front_enabled = false;
  std::string stream_module_path;
  std::string mesh_front_dir_path;
  std::string mesh_front_table_path;  // <dir>/table
};

// --apisix-openresty-path: a path, or auto — `openresty` on PATH, then OpenResty's install paths
// (/usr/local/openresty/bin, /usr/local/openresty-debug/bin), as APISIX's CLI looks.
absl::StatusOr<std::string> FindOpenresty(const std::string& flag_value);

void RegisterSidecarFlags(CLI::App& app, SidecarConfig& config);

// --mesh-front: fills mesh_front_enabled, stream_module_path and mesh_front_table_path (needs the
// original destinations resolved first).
absl::Status ResolveMeshFront(SidecarConfig& config);

// Checks every flag; the message names the flag and what it accepts. Fills config.listen.
absl::Status Validate(SidecarConfig& config);

}  // namespace agent::config
