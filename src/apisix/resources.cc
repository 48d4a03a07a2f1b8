#include "apisix/resources.h"

#include "nlohmann/json.hpp"

namespace agent::apisix {
namespace {

// APISIX schema limits: name up to 100 characters, desc up to 256.
std::string Truncate(const std::string& text, size_t max) { return text.size() <= max ? text : text.substr(0, max); }

// nlohmann::json keeps object keys sorted, which makes dump() deterministic.
constexpr double kDefaultProxyTimeoutSeconds = 60;  // nginx's proxy_send/read_timeout default

}  // namespace

std::string EncodeJson(const Route& route) {
  nlohmann::json j;
  j["id"] = route.id;
  j["name"] = Truncate(route.name, 100);
  if (!route.desc.empty()) j["desc"] = Truncate(route.desc, kMaxDescLength);
  j["uris"] = route.uris;
  if (!route.hosts.empty()) j["hosts"] = route.hosts;
  if (!route.vars.empty()) {
    nlohmann::json vars = nlohmann::json::array();
    for (const RouteVar& v : route.vars) {
      if (v.negate) {
        vars.push_back({v.var, "!", v.op, v.value});
      } else {
        vars.push_back({v.var, v.op, v.value});
      }
    }
    j["vars"] = std::move(vars);
  }
  j["priority"] = route.priority;
  if (!route.upstream_id.empty()) j["upstream_id"] = route.upstream_id;
  if (route.timeout_seconds) {
    j["timeout"] = {{"connect", route.timeout_connect_seconds.value_or(kDefaultProxyTimeoutSeconds)},
                    {"send", *route.timeout_seconds},
                    {"read", *route.timeout_seconds}};
  }
  if (!route.plugins.empty()) j["plugins"] = route.plugins;
  j["status"] = 1;
  return j.dump();
}

std::string EncodeJson(const Upstream& upstream) {
  nlohmann::json j;
  j["id"] = upstream.id;
  j["name"] = Truncate(upstream.name, 100);
  if (!upstream.desc.empty()) j["desc"] = Truncate(upstream.desc, kMaxDescLength);
  j["type"] = upstream.type;
  if (upstream.type == "chash") {
    j["hash_on"] = upstream.hash_on;
    j["key"] = upstream.key;
  }
  nlohmann::json nodes = nlohmann::json::array();
  for (const UpstreamNode& n : upstream.nodes) {
    nlohmann::json node = {{"host", n.host}, {"port", n.port}, {"weight", n.weight}};
    if (n.priority != 0) node["priority"] = n.priority;
    nodes.push_back(std::move(node));
  }
  j["nodes"] = std::move(nodes);
  if (upstream.retries) j["retries"] = *upstream.retries;
  if (!upstream.scheme.empty()) j["scheme"] = upstream.scheme;
  if (!upstream.upstream_host.empty()) {
    j["pass_host"] = "rewrite";
    j["upstream_host"] = upstream.upstream_host;
  }
  if (!upstream.checks.is_null()) j["checks"] = upstream.checks;
  if (upstream.connect_timeout_seconds || upstream.idle_timeout_seconds) {
    const double idle = upstream.idle_timeout_seconds.value_or(kDefaultProxyTimeoutSeconds);
    j["timeout"] = {{"connect", upstream.connect_timeout_seconds.value_or(kDefaultProxyTimeoutSeconds)},
                    {"send", idle},
                    {"read", idle}};
  }
  return j.dump();
}

std::string EncodeJson(const StreamRoute& route) {
  nlohmann::json j;
  j["id"] = route.id;
  j["server_addr"] = route.server_addr;
  j["server_port"] = route.server_port;
  j["upstream_id"] = route.upstream_id;
  return j.dump();
}

}  // namespace agent::apisix
