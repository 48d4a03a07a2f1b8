#include "apisix/schema_check.h"

#include <regex>
#include <set>

#include <arpa/inet.h>

namespace agent::apisix {

using nlohmann::json;

namespace {

class Checker {
 public:
  explicit Checker(const json& object) : object_(object) {}

  void Fail(const std::string& what) { errors_.push_back(what); }
  const std::vector<std::string>& errors() const { return errors_; }

  void Id() {
    static const std::regex kId("^[a-zA-Z0-9-_.]+$");
    if (!object_.contains("id") || !object_["id"].is_string()) return Fail("id: missing");
    const std::string id = object_["id"];
    if (id.empty() || id.size() > 64 || !std::regex_match(id, kId)) Fail("id: \"" + id + "\" breaks ^[a-zA-Z0-9-_.]+$ / 64");
  }
  void Name() {
    if (!object_.contains("name")) return;
    const json& name = object_["name"];
    if (!name.is_string() || name.get<std::string>().empty() || name.get<std::string>().size() > 100) {
      Fail("name: 1-100 characters");
    }
    if (object_.contains("desc") && (!object_["desc"].is_string() || object_["desc"].get<std::string>().size() > 256)) {
      Fail("desc: at most 256 characters");
    }
  }
  void Timeout() {
    if (!object_.contains("timeout")) return;
    const json& t = object_["timeout"];
    for (const char* part : {"connect", "send", "read"}) {
      if (!t.contains(part) || !t[part].is_number() || t[part].get<double>() <= 0) {
        Fail(std::string("timeout.") + part + ": required, a number > 0");
      }
    }
  }
  void AllowedKeys(const std::set<std::string>& allowed) {
    for (const auto& [key, value] : object_.items()) {
      if (allowed.count(key) == 0) Fail(key + ": not a property APISIX allows (additionalProperties=false)");
    }
  }

 private:
  const json& object_;
  std::vector<std::string> errors_;
};

void CheckPlugins(const json& plugins, Checker& c) {
  if (!plugins.is_object()) return c.Fail("plugins: must be an object");
  if (plugins.contains("traffic-split")) {
    for (const auto& rule : plugins["traffic-split"].value("rules", json::array())) {
      for (const auto& w : rule.value("weighted_upstreams", json::array())) {
        if (!w.contains("weight") || !w["weight"].is_number_integer() || w["weight"].get<int64_t>() < 0) {
          c.Fail("traffic-split: weight must be an integer >= 0");
        }
      }
    }
  }
  if (plugins.contains("serverless-pre-function")) {  // apisix/plugins/serverless/init.lua
    const json& f = plugins["serverless-pre-function"];
    static const std::set<std::string> kPhases = {"rewrite", "access", "header_filter", "body_filter", "log",
                                                  "before_proxy"};
    if (!f.contains("phase") || !f["phase"].is_string() || !kPhases.count(f["phase"].get<std::string>())) {
      c.Fail("serverless-pre-function: phase must be one of rewrite, access, header_filter, body_filter, log, "
             "before_proxy");
    }
    const json functions = f.value("functions", json());
    if (!functions.is_array() || functions.empty()) c.Fail("serverless-pre-function: functions: at least one required");
    for (const auto& code : functions.is_array() ? functions : json::array()) {
      // APISIX loads each with loadstring() and requires it to return a function.
      if (!code.is_string() || code.get<std::string>().rfind("return function", 0) != 0) {
        c.Fail("serverless-pre-function: each function must be Lua source returning a function");
      }
    }
  }
  if (plugins.contains("redirect")) {
    const json& r = plugins["redirect"];
    int forms = r.contains("uri") + r.contains("regex_uri") + r.contains("http_to_https");
    if (forms != 1) c.Fail("redirect: exactly one of uri, regex_uri, http_to_https");
    if (r.contains("http_to_https") && r.contains("append_query_string")) {
      c.Fail("redirect: append_query_string cannot go with http_to_https");
    }
    if (r.contains("ret_code") && (r["ret_code"].get<int>() < 200)) c.Fail("redirect: ret_code >= 200");
  }
  if (plugins.contains("fault-injection")) {
    const json& f = plugins["fault-injection"];
    if (!f.contains("abort") && !f.contains("delay")) c.Fail("fault-injection: abort or delay required");
    if (f.contains("abort") && f["abort"].value("http_status", 0) < 200) c.Fail("fault-injection: http_status >= 200");
  }
  for (const char* rewrite : {"proxy-rewrite", "redirect"}) {
    if (plugins.contains(rewrite) && plugins[rewrite].contains("regex_uri")) {
      const json& re = plugins[rewrite]["regex_uri"];
      if (!re.is_array() || re.size() != 2) c.Fail(std::string(rewrite) + ": regex_uri is [regex, replacement]");
    }
  }
}

}  // namespace

std::vector<std::string> CheckRouteSchema(const json& route) {
  Checker c(route);
  c.AllowedKeys({"id", "name", "desc", "uri", "uris", "host", "hosts", "methods", "remote_addrs", "vars",
                 "filter_func", "priority", "upstream", "upstream_id", "service_id", "plugins", "plugin_config_id",
                 "timeout", "enable_websocket", "status", "labels", "script", "script_id", "create_time",
                 "update_time"});
  c.Id();
  c.Name();
  c.Timeout();
  if (route.contains("uri") == route.contains("uris")) c.Fail("uri/uris: exactly one");
  if (route.contains("uris") && (!route["uris"].is_array() || route["uris"].empty())) c.Fail("uris: non-empty array");
  if (route.contains("host") && route.contains("hosts")) c.Fail("host/hosts: at most one");
  static const std::regex kHost(R"(^\*$|^\*?[0-9a-zA-Z-._\[\]:]+$)");
  for (const auto& host : route.value("hosts", json::array())) {
    if (!host.is_string() || !std::regex_match(host.get<std::string>(), kHost)) {
      c.Fail("hosts: \"" + host.dump() + "\" breaks the host pattern");
    }
  }
  if (!route.contains("upstream_id") && !route.contains("upstream") && !route.contains("plugins") &&
      !route.contains("service_id")) {
    c.Fail("one of upstream_id, upstream, plugins, service_id is required");
  }
  for (const auto& var : route.value("vars", json::array())) {
    if (!var.is_array() || var.size() < 3 || var.size() > 4) c.Fail("vars: each is [var, (!), op, value]");
  }
  if (route.contains("priority") && !route["priority"].is_number_integer()) c.Fail("priority: integer");
  if (route.contains("plugins")) CheckPlugins(route["plugins"], c);
  return c.errors();
}

std::vector<std::string> CheckUpstreamSchema(const json& upstream) {
  Checker c(upstream);
  c.AllowedKeys({"id", "name", "desc", "type", "nodes", "service_name", "discovery_type", "discovery_args",
                 "hash_on", "key", "checks", "retries", "retry_timeout", "timeout", "scheme", "pass_host",
                 "upstream_host", "keepalive_pool", "tls", "labels", "create_time", "update_time"});
  c.Id();
  c.Name();
  c.Timeout();
  static const std::set<std::string> kTypes = {"roundrobin", "chash", "least_conn", "ewma"};
  if (!kTypes.count(upstream.value("type", "roundrobin"))) c.Fail("type: roundrobin | chash | least_conn | ewma");
  if (upstream.value("type", "") == "chash") {
    static const std::set<std::string> kHashOn = {"vars", "header", "cookie", "consumer", "vars_combinations"};
    if (!kHashOn.count(upstream.value("hash_on", "vars"))) c.Fail("hash_on: unknown");
    if (!upstream.contains("key")) c.Fail("chash: key required");
  }
  if (!upstream.contains("nodes") && !upstream.contains("service_name")) c.Fail("nodes: required");
  for (const auto& node : upstream.value("nodes", json::array())) {
    if (!node.contains("host") || !node["host"].is_string() || node["host"].get<std::string>().empty()) {
      c.Fail("nodes: host required");
    }
    if (!node.contains("port") || !node["port"].is_number_integer() || node["port"].get<int64_t>() < 1 ||
        node["port"].get<int64_t>() > 65535) {
      c.Fail("nodes: port 1-65535");
    }
    if (!node.contains("weight") || !node["weight"].is_number_integer() || node["weight"].get<int64_t>() < 0) {
      c.Fail("nodes: weight integer >= 0");
    }
  }
  if (upstream.contains("checks") && !upstream["checks"].contains("active")) c.Fail("checks: active required");
  return c.errors();
}

}  // namespace agent::apisix

namespace agent::apisix {

std::vector<std::string> CheckStreamRouteSchema(const json& route) {
  // schema_def.lua _M.stream_route (3.x); APISIX's stream router compares server_addr with
  // $server_addr as a string, so it must be nginx's text of an address (inet_ntop's form).
  Checker c(route);
  c.AllowedKeys({"id", "desc", "labels", "remote_addr", "server_addr", "server_port", "sni", "upstream",
                 "upstream_id", "service_id", "plugins", "protocol", "create_time", "update_time"});
  c.Id();
  if (route.contains("server_port") &&
      (!route["server_port"].is_number_integer() || route["server_port"].get<int64_t>() < 1 ||
       route["server_port"].get<int64_t>() > 65535)) {
    c.Fail("server_port: integer 1-65535");
  }
  if (route.contains("server_addr")) {
    unsigned char bytes[16];
    char text[INET6_ADDRSTRLEN];
    const std::string addr = route["server_addr"].is_string() ? route["server_addr"].get<std::string>() : "";
    const int family = addr.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (inet_pton(family, addr.c_str(), bytes) != 1 || inet_ntop(family, bytes, text, sizeof text) == nullptr ||
        addr != text) {
      c.Fail("server_addr: an IPv4 or IPv6 address in nginx's form");
    }
  }
  if (!route.contains("upstream_id") && !route.contains("upstream") && !route.contains("service_id")) {
    c.Fail("upstream_id, upstream or service_id required");
  }
  return c.errors();
}

}  // namespace agent::apisix
