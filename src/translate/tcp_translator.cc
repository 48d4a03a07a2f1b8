#include "translate/tcp_translator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "translate/listener_binding.h"

namespace agent::translate {

namespace {

using Action = FrontEntry::Action;

// Envoy's tcp_proxy default idle_timeout.
constexpr double kDefaultIdleTimeoutSeconds = 3600;
// An idle_timeout of 0 disables it in Envoy; APISIX needs a positive timeout: a week.
constexpr double kNoIdleTimeoutSeconds = 7 * 24 * 3600;

const char* ActionName(Action a) {
  switch (a) {
    case Action::kTcp: return "tcp";
    case Action::kPassthrough: return "passthrough";
    case Action::kBlackhole: return "blackhole";
    case Action::kNone: break;
  }
  return "";
}

// The address stream routes match for a wildcard listener: the loopback address of the family,
// which the front restores (no redirected connection is for loopback).
std::vector<std::string> StreamRouteAddresses(const ChainDestination& where) {
  if (!where.address.empty()) {
    std::string text = CanonicalAddress(where.address);
    if (!text.empty() && text.front() == '[') text = text.substr(1, text.size() - 2);
    return {text};
  }
  if (where.family == ChainDestination::Family::kIpv4) return {"127.0.0.1"};
  if (where.family == ChainDestination::Family::kIpv6) return {"::1"};
  return {"127.0.0.1", "::1"};
}

// The stream side of a cluster's upstream: nodes, balancing and connect timeout; the connection's
// idle timeout as APISIX's send/read timeouts; nothing HTTP-only (health checks by HTTP, Host).
apisix::Upstream StreamUpstream(const apisix::Upstream& http, double idle_seconds) {
  apisix::Upstream u;
  u.nodes = http.nodes;
  u.type = http.type;
  if (u.type == "chash" && !(http.hash_on == "vars" && http.key == "remote_addr")) u.type = "roundrobin";
  if (u.type == "chash") {
    u.hash_on = http.hash_on;
    u.key = http.key;
  }
  u.connect_timeout_seconds = http.connect_timeout_seconds;
  u.idle_timeout_seconds = idle_seconds;
  return u;
}

// Whether the front and APISIX can name the destination: an IP address (or none) and a port.
bool Expressible(const ChainDestination& where) {
  if (where.port > 65535) return false;
  if (where.address.empty()) return true;
  unsigned char bytes[16];
  return inet_pton(AF_INET, where.address.c_str(), bytes) == 1 || inet_pton(AF_INET6, where.address.c_str(), bytes) == 1;
}

}  // namespace

std::string FrontKey(const ChainDestination& where) {
  std::string address = !where.address.empty() ? CanonicalAddress(where.address)
                        : where.family == ChainDestination::Family::kIpv4 ? "0.0.0.0"
                        : where.family == ChainDestination::Family::kIpv6 ? "[::]"
                                                                          : "*";
  return absl::StrCat(address, ":", where.port == 0 ? std::string("*") : absl::StrCat(where.port));
}

TcpTranslation TranslateTcp(const std::vector<TcpChain>& chains, const std::vector<RouteUse>& http_uses,
                            const UpstreamIndex& upstreams,
                            const std::map<std::string, const apisix::Upstream*>& cluster_upstreams,
                            apisix::IdAllocator& ids, Diagnostics& skipped) {
  TcpTranslation out;
  // Keyed by the text the front looks up: two spellings of one address are one destination.
  std::map<std::pair<bool, std::string>, FrontEntry> entries;
  auto entry_of = [&](const ChainDestination& where) -> FrontEntry& {
    FrontEntry& e = entries[{where.inbound, FrontKey(where)}];
    e.where = where;
    return e;
  };
  for (const RouteUse& use : http_uses) {
    if (Expressible(use.where)) entry_of(use.where).http = true;  // others: reported with the TCP chain, if any
  }

  std::map<std::string, std::string> stream_upstream_ids;  // "cluster|idle" or chain → upstream id
  for (const TcpChain& chain : chains) {
    const std::string resource = absl::StrCat("Listener ", chain.listener, ", filter chain ", chain.chain);
    if (chain.server_names) {
      skipped.push_back({resource, "filter_chain_match.server_names",
                         "TLS routing by SNI is not translated: the front does not read the ClientHello; the "
                         "destination's other chains carry its connections"});
      continue;
    }
    if (!Expressible(chain.where)) {
      skipped.push_back({resource, "address", absl::StrCat(chain.where.ToString(), " is not an IP address and port; the "
                                                           "chain is not translated")});
      continue;
    }
    FrontEntry& entry = entry_of(chain.where);
    if (entry.other != Action::kNone) {
      skipped.push_back({resource, "filter_chain_match",
                         absl::StrCat("another tcp_proxy chain already serves ", chain.where.ToString(),
                                      " (chains told apart by transport or application protocol are not); this one "
                                      "is not translated")});
      continue;
    }
    std::vector<std::pair<std::string, uint32_t>> targets;
    if (!chain.cluster.empty()) {
      targets.emplace_back(chain.cluster, 1);
    } else {
      for (const auto& [name, weight] : chain.weighted) {
        if (weight > 0) targets.emplace_back(name, weight);
      }
    }
    // Where the connections go: the cluster's endpoints, where they were going, or nowhere.
    std::vector<std::pair<const apisix::Upstream*, uint32_t>> routed;
    bool passthrough = false;
    for (const auto& [name, weight] : targets) {
      auto ref = upstreams.find(name);
      if (name == "BlackHoleCluster") continue;
      if (ref != upstreams.end() && !ref->second.original_destination_location.empty()) {
        passthrough = true;
        continue;
      }
      auto upstream = cluster_upstreams.find(name);
      if (ref == upstreams.end() || !ref->second.unusable.empty() || upstream == cluster_upstreams.end()) {
        skipped.push_back({resource, "tcp_proxy", absl::StrCat("cluster ", name, " is not translated; its share of the "
                                                               "connections is closed")});
        continue;
      }
      routed.emplace_back(upstream->second, weight);
    }
    if (chain.where.inbound) {
      // Istio's inbound clusters are the application itself (ORIGINAL_DST, or 127.0.0.1/the pod
      // IP on the same port): inbound TCP goes to where the connection was going.
      entry.other = routed.empty() && !passthrough ? Action::kBlackhole : Action::kPassthrough;
      continue;
    }
    if (routed.empty()) {
      entry.other = passthrough ? Action::kPassthrough : Action::kBlackhole;
      continue;
    }
    if (passthrough) {
      skipped.push_back({resource, "tcp_proxy.weighted_clusters",
                         "a split between clusters and the original destination is not expressible; the clusters "
                         "take every connection"});
    }
    if (chain.where.port == 0) {
      skipped.push_back({resource, "tcp_proxy", "a catch-all chain (no destination port) to a cluster cannot be a "
                                                "stream route; its connections are closed"});
      entry.other = Action::kBlackhole;
      continue;
    }
    const double idle = !chain.idle_timeout_seconds ? kDefaultIdleTimeoutSeconds
                        : *chain.idle_timeout_seconds <= 0 ? kNoIdleTimeoutSeconds
                                                            : *chain.idle_timeout_seconds;
    std::string upstream_key = routed.size() == 1 ? absl::StrCat(routed[0].first->name, "|", idle)
                                                  : absl::StrCat(chain.listener, "/", chain.chain, "|", idle);
    auto known = stream_upstream_ids.find(upstream_key);
    if (known == stream_upstream_ids.end()) {
      apisix::Upstream u = StreamUpstream(*routed[0].first, idle);
      if (routed.size() > 1) {
        // weighted_clusters: each cluster's share of connections is its weight, whatever its
        // number of endpoints: node weight = cluster weight × node weight / the cluster's total.
        u.type = "roundrobin";
        u.nodes.clear();
        std::map<std::pair<std::string, uint32_t>, uint64_t> merged;
        for (const auto& [upstream, weight] : routed) {
          uint64_t total = 0;
          for (const auto& n : upstream->nodes) total += n.weight;
          for (const auto& n : upstream->nodes) {
            if (total == 0 || n.weight == 0) continue;
            merged[{n.host, n.port}] += std::max<uint64_t>(1, std::llround(1000.0 * weight * n.weight / total));
          }
        }
        for (const auto& [where, weight] : merged) {
          u.nodes.push_back({where.first, where.second, static_cast<uint32_t>(std::min<uint64_t>(weight, 1u << 30)), 0});
        }
        u.name = absl::StrCat(chain.listener, "/", chain.chain, " (tcp, weighted)");
      } else {
        u.name = absl::StrCat(routed[0].first->name, " (tcp)");
      }
      for (const auto& [upstream, weight] : routed) out.clusters.push_back(upstream->name);
      u.id = ids.Assign(absl::StrCat("upstream:tcp:", upstream_key));
      u.desc = absl::StrCat("stream upstream of ", routed.size() == 1 ? routed[0].first->name : upstream_key);
      known = stream_upstream_ids.emplace(upstream_key, u.id).first;
      out.upstreams.push_back(std::move(u));
    }
    entry.other = Action::kTcp;
    for (const std::string& address : StreamRouteAddresses(chain.where)) {
      apisix::StreamRoute route;
      route.id = ids.Assign(absl::StrCat("stream_route:", address, ":", chain.where.port));
      route.server_addr = address;
      route.server_port = chain.where.port;
      route.upstream_id = known->second;
      route.source = absl::StrCat("xds listener ", chain.listener, ", filter chain ", chain.chain);
      out.stream_routes.push_back(std::move(route));
    }
  }
  for (auto& [key, entry] : entries) out.front.push_back(entry);
  std::sort(out.clusters.begin(), out.clusters.end());
  out.clusters.erase(std::unique(out.clusters.begin(), out.clusters.end()), out.clusters.end());
  return out;
}

std::string RenderFrontTable(const std::vector<FrontEntry>& entries) {
  std::string out = "# apisix-mesh-agent mesh front table: DIRECTION DESTINATION ACTION (docs/interception.md)\n";
  for (bool inbound : {false, true}) {
    for (const FrontEntry& e : entries) {
      if (e.where.inbound != inbound) continue;
      std::string action = e.http ? (e.other == Action::kNone ? "http" : absl::StrCat("http,", ActionName(e.other)))
                                  : ActionName(e.other);
      if (action.empty()) continue;
      absl::StrAppend(&out, inbound ? "inbound " : "outbound ", FrontKey(e.where), " ", action, "\n");
    }
  }
  return out;
}

}  // namespace agent::translate
