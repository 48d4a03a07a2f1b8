// Bundle mode's APISIX configuration file: what APISIX needs to run beside the agent — its
// listeners for captured traffic, the agent as its etcd, the plugins the translation uses — in
// the layout of the APISIX line in use (2.x: top-level `etcd`; 3.x: `deployment`).
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "apisix/key_layout.h"
#include "apisix/resources.h"

namespace agent::apisix {

struct BundleConfig {
  VersionLine line = VersionLine::k3x;
  int node_listen = 9080;     // captured outbound traffic
  int inbound_port = 9081;    // captured inbound traffic
  std::string etcd_host;      // http://IP:port of the agent's etcd API, as APISIX must dial it
  std::string etcd_prefix = "/apisix";
  std::string etcd_user;      // when the agent requires etcd auth
  std::string etcd_password;
  // The nginx variable holding a connection's original destination ("ip:port"): our module's
  // `original_dst`, or an operator's own. With it, `passthrough_location` is rendered in APISIX's
  // server: the named location the translation's pass-through routes hand requests to.
  std::string original_dst_var;
  std::string passthrough_location = kPassthroughLocation;
  // The original-destination module (ngx_http_original_dst_module.so) to load; empty = none.
  std::string original_dst_module;
  // nginx's `user` for the workers: the user the interception exempts (--apisix-user). Empty =
  // none rendered (nginx's default).
  std::string worker_user;
  // Where nginx writes the access log: /dev/stdout (the agent forwards it), a file, or "off".
  std::string access_log = "/dev/stdout";
  // The mesh front (docs/interception.md): the capture ports become nginx stream servers that
  // decide per connection, from the table, between APISIX's HTTP routes (on unix sockets, behind a
  // PROXY header), APISIX's stream routes, the original destination and closing it. Needs
  // `original_dst_module`.
  struct MeshFront {
    std::string stream_module;  // ngx_stream_original_dst_module.so
    // The front's table (<dir>/table) and the unix sockets of its private hops: HTTP outbound and
    // inbound into APISIX's HTTP server, and the pass-through (config/mesh_front.h).
    std::string dir;
    std::string table;  // the file the agent writes the table to
    int detect_timeout_ms = 1000;
    int http_direct_port = 15082;  // APISIX's node_listen (loopback; no route is bound to it)
    int stream_port = 15090;       // APISIX's stream_proxy (loopback)
  };
  std::optional<MeshFront> mesh_front;
};

// The mesh front's unix sockets, in MeshFront::dir: behind the front each connection arrives with
// a PROXY header naming its original destination — APISIX's HTTP routes for outbound and inbound
// connections, and the pass-through to the original destination.
inline constexpr char kFrontHttpOutboundSocket[] = "http-outbound.sock";
inline constexpr char kFrontHttpInboundSocket[] = "http-inbound.sock";
inline constexpr char kFrontPassthroughSocket[] = "passthrough.sock";

// The first line of every file the agent renders: how it tells its own file from the user's.
inline constexpr char kRenderedMarker[] = "# Rendered by apisix-mesh-agent";

std::string RenderBundleConfig(const BundleConfig& config);

// Whether the file at `path` is one the agent wrote: it starts with the marker, or it is a version
// the agent recorded (APISIX's `init` rewrites config.yaml — it adds a generated admin key — and
// drops comments; RecordOwned notes that version).
bool IsOwnedConfig(const std::string& path);
void RecordOwned(const std::string& path);

// The operator's own file, once the agent takes config.yaml over: their settings stay the base of
// every later render (config_merge.h).
std::string OperatorConfigPath(const std::string& path);

// Writes `content` to `path` (atomically: a temporary file renamed into place) and records it as
// the agent's. A file the agent did not write is never overwritten silently: it is moved aside
// first — to OperatorConfigPath(path) when that is free, else `<path>.user-backup-<time>` — and
// where it went is returned so the caller can say so.
absl::StatusOr<std::optional<std::string>> InstallBundleConfig(const std::string& path, const std::string& content);

}  // namespace agent::apisix
