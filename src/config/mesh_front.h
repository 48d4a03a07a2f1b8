// The mesh front's fixed parts (docs/interception.md, "TCP and HTTP on the capture ports"): the
// stream module that carries it, its directory — the table the agent writes and the unix sockets
// of its private hops — and the loopback ports APISIX keeps.
#pragma once

namespace agent::config {

// Beside ngx_http_original_dst_module.so: both are built from nginx-original-dst/.
inline constexpr char kStreamModuleFile[] = "ngx_stream_original_dst_module.so";
// Bundle mode: <APISIX home>/mesh-front, owned by APISIX's worker user, mode 0700 — only the
// workers reach the sockets, so no other process can hand them a forged PROXY header.
inline constexpr char kMeshFrontDir[] = "mesh-front";
inline constexpr char kFrontTableFile[] = "table";
// (The sockets' names are bundle mode's: apisix/bundle_config.h.)
// APISIX's stream routes (stream_proxy.tcp: APISIX listens on TCP; a forged header there reaches
// only what the mesh routes anyway), and APISIX's own node_listen, to which no route is bound.
inline constexpr int kFrontStreamPort = 15090;
inline constexpr int kFrontHttpDirectPort = 15082;

}  // namespace agent::config
