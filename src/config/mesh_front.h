// The mesh front's fixed parts (docs/interception.md, "TCP and HTTP on the capture ports"): the
// stream module that carries it, and the loopback ports of its internal hops in bundle mode.
#pragma once

namespace agent::config {

// Beside ngx_http_original_dst_module.so: both are built from nginx-original-dst/.
inline constexpr char kStreamModuleFile[] = "ngx_stream_original_dst_module.so";
// Bundle mode writes the table into APISIX's home.
inline constexpr char kMeshFrontTableFile[] = "conf/mesh-front.table";

// Loopback ports behind the front (each connection arrives with a PROXY header naming its
// original destination): APISIX's HTTP routes for outbound and inbound connections, APISIX's
// stream routes, and the pass-through to the original destination. APISIX's own node_listen moves
// to a loopback port of its own.
inline constexpr int kFrontHttpOutboundPort = 15080;
inline constexpr int kFrontHttpInboundPort = 15081;
inline constexpr int kFrontHttpDirectPort = 15082;  // APISIX's node_listen: no route is bound to it
inline constexpr int kFrontStreamPort = 15090;
inline constexpr int kFrontPassthroughPort = 15091;

}  // namespace agent::config
