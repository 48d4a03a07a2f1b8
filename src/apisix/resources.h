// The APISIX objects the agent writes, and their deterministic JSON encoding (same object, same
// bytes), so an unchanged object never produces a new revision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace agent::apisix {

// Every plugin the translation can put on a route: bundle mode enables exactly these in APISIX
// (the corpus test checks the translation never emits another).
// serverless-pre-function hands pass-through requests to the original-destination location.
inline constexpr const char* kTranslatedPlugins[] = {"proxy-rewrite",  "response-rewrite", "redirect",
                                                     "fault-injection", "cors",            "proxy-mirror",
                                                     "traffic-split",  "serverless-pre-function"};

// The nginx named location that proxies a request to its connection's original destination:
// bundle mode renders it into APISIX's server, pass-through routes ngx.exec() to it.
inline constexpr char kPassthroughLocation[] = "@apisix_mesh_original_dst";

// One condition of a route's `vars` (lua-resty-expr): [var, ("!",) op, value].
struct RouteVar {
  std::string var;
  std::string op;  // "==", "~~", "~*", ...
  std::string value;
  bool negate = false;

  bool operator==(const RouteVar&) const = default;
};

struct Route {
  std::string id;
  std::string name;
  std::string desc;
  std::vector<std::string> uris;
  std::vector<std::string> hosts;  // empty = any host
  std::vector<RouteVar> vars;
  int64_t priority = 0;
  std::string upstream_id;  // empty when plugins answer on their own (redirect, direct response)
  // Route timeout (replaces the upstream's): connect, and send = read = the Envoy route timeout.
  std::optional<double> timeout_connect_seconds;
  std::optional<double> timeout_seconds;
  nlohmann::json plugins = nlohmann::json::object();  // plugin name → configuration
};

struct UpstreamNode {
  std::string host;
  uint32_t port = 0;
  uint32_t weight = 1;
  int32_t priority = 0;  // APISIX: higher first; Envoy's priority 0 (the highest) maps to 0

  bool operator==(const UpstreamNode&) const = default;
};

struct Upstream {
  std::string id;
  std::string name;
  std::string desc;
  std::string type = "roundrobin";  // roundrobin | least_conn | chash | ewma
  std::string hash_on;              // chash only
  std::string key;                  // chash only
  std::vector<UpstreamNode> nodes;
  std::optional<double> connect_timeout_seconds;
  std::optional<uint32_t> retries;  // from the routes' retry policies
  std::string scheme;         // "https" for TLS clusters; empty = APISIX's default (http)
  std::string upstream_host;  // with pass_host "rewrite": also the TLS SNI in APISIX
  nlohmann::json checks;      // health checks (null = none)
  // TCP (stream routes): how long a connection may stay idle (Envoy's tcp_proxy idle_timeout),
  // APISIX's timeout.send/read, which nginx's stream proxy applies as proxy_timeout.
  std::optional<double> idle_timeout_seconds;
};

// A stream route (APISIX's stream subsystem): connections whose local address — the listener the
// mesh front restored, docs/interception.md — is server_addr:server_port go to the upstream.
struct StreamRoute {
  std::string id;
  std::string server_addr;  // "10.96.0.7", "fd00::7"; "127.0.0.1"/"::1" for a wildcard listener
  uint32_t server_port = 0;
  std::string upstream_id;
  std::string source;  // not encoded (the schema has no desc): the listener and chain, for /config_dump
};

// APISIX's schema: a route's or upstream's desc is at most this long (EncodeJson cuts it).
inline constexpr size_t kMaxDescLength = 256;

std::string EncodeJson(const Route& route);
std::string EncodeJson(const Upstream& upstream);
std::string EncodeJson(const StreamRoute& route);

}  // namespace agent::apisix
