// TCP through the mesh: tcp_proxy filter chains → APISIX stream routes and their upstreams, and
// the mesh front's table — for every destination a listener claims, whether HTTP goes to APISIX's
// HTTP routes and where everything else goes (stream routes, the original destination, or
// nowhere). Pure; see docs/interception.md ("TCP and HTTP on the capture ports").
#pragma once

#include <string>
#include <vector>

#include "apisix/ids.h"
#include "apisix/resources.h"
#include "translate/diagnostics.h"
#include "translate/listener_translator.h"
#include "translate/route_action_translator.h"

namespace agent::translate {

// What the front does with the connections of one destination.
struct FrontEntry {
  enum class Action { kNone, kTcp, kPassthrough, kBlackhole };
  ChainDestination where;
  bool http = false;             // an HTTP connection manager serves it (sniffed when `other` is set)
  Action other = Action::kNone;  // what is not HTTP gets
  bool operator==(const FrontEntry&) const = default;
};

struct TcpTranslation {
  std::vector<apisix::StreamRoute> stream_routes;
  std::vector<apisix::Upstream> upstreams;  // one per cluster (and idle timeout) a stream route uses
  std::vector<FrontEntry> front;            // sorted by destination
  std::vector<std::string> clusters;        // the clusters the stream upstreams copy nodes from
};

// `cluster_upstreams`: the translated upstream of each cluster with one (by cluster name).
TcpTranslation TranslateTcp(const std::vector<TcpChain>& chains, const std::vector<RouteUse>& http_uses,
                            const UpstreamIndex& upstreams,
                            const std::map<std::string, const apisix::Upstream*>& cluster_upstreams,
                            apisix::IdAllocator& ids, Diagnostics& skipped);

// The table the front (nginx-original-dst's mesh_front) reads: one line per destination, in a
// stable order, e.g. "outbound 10.96.0.7:27017 tcp", "outbound *:80 http,passthrough".
std::string RenderFrontTable(const std::vector<FrontEntry>& entries);

// The destination as the table (and nginx) write it: "10.96.0.7:27017", "[fd00::7]:80",
// "0.0.0.0:80" (any IPv4), "[::]:80" (any IPv6), "*:80", "*:*".
std::string FrontKey(const ChainDestination& where);

}  // namespace agent::translate
