#include "translate/route_action_translator.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "translate/filter_config_translator.h"
#include "translate/match_translator.h"

namespace agent::translate {

using envoy::config::core::v3::HeaderValueOption;
using envoy::config::route::v3::RedirectAction;
using envoy::config::route::v3::RouteAction;
using nlohmann::json;

namespace {

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) / 1e9;
}

// Envoy's RE2 substitution uses \1; ngx.re uses $1.
std::string PcreSubstitution(const std::string& re2) {
  std::string out;
  for (size_t i = 0; i < re2.size(); ++i) {
    if (re2[i] == '\\' && i + 1 < re2.size() && std::isdigit(static_cast<unsigned char>(re2[i + 1]))) {
      out.push_back('$');
    } else {
      out.push_back(re2[i]);
    }
  }
  return out;
}

// Envoy's header formatters that have an nginx variable; others cannot be expressed.
std::optional<std::string> HeaderValue(const std::string& value) {
  if (value.find('%') == std::string::npos) return value;
  std::string out = absl::StrReplaceAll(value, {{"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "$remote_addr"},
                                                {"%DOWNSTREAM_REMOTE_ADDRESS%", "$remote_addr:$remote_port"},
                                                {"%PROTOCOL%", "$server_protocol"},
                                                {"%HOSTNAME%", "$hostname"}});
  return out.find('%') == std::string::npos ? std::optional<std::string>(out) : std::nullopt;
}

// add / set / remove in APISIX's proxy-rewrite (and response-rewrite) header vocabulary.
struct HeaderOps {
  std::map<std::string, std::string> add, set;
  std::vector<std::string> remove;
  bool empty() const { return add.empty() && set.empty() && remove.empty(); }
};

// `append` is deprecated but still sent by older control planes, so it is read on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void Collect(const google::protobuf::RepeatedPtrField<HeaderValueOption>& to_add,
             const google::protobuf::RepeatedPtrField<std::string>& to_remove, HeaderOps& ops,
             const std::string& resource, const std::string& field, Diagnostics& skipped) {
  for (const HeaderValueOption& option : to_add) {
    auto value = HeaderValue(option.header().value());
    if (!value) {
      skipped.push_back({resource, field, absl::StrCat("header ", option.header().key(), ": value \"",
                                                       option.header().value(), "\" uses an Envoy formatter with no nginx variable")});
      continue;
    }
    // `append` (deprecated) wins when given; otherwise append_action, whose default appends.
    bool append = option.has_append()
                      ? option.append().value()
                      : option.append_action() == HeaderValueOption::APPEND_IF_EXISTS_OR_ADD;
    (append ? ops.add : ops.set)[option.header().key()] = *value;
  }
  for (const std::string& name : to_remove) ops.remove.push_back(name);
}
#pragma GCC diagnostic pop

json RequestHeadersJson(const HeaderOps& ops) {
  json headers = json::object();
  if (!ops.add.empty()) headers["add"] = ops.add;
  if (!ops.set.empty()) headers["set"] = ops.set;
  if (!ops.remove.empty()) headers["remove"] = ops.remove;
  return headers;
}

// response-rewrite's "add" is a list of "name: value" strings.
json ResponseHeadersJson(const HeaderOps& ops) {
  json headers = json::object();
  if (!ops.add.empty()) {
    json add = json::array();
    for (const auto& [k, v] : ops.add) add.push_back(absl::StrCat(k, ": ", v));
    headers["add"] = std::move(add);
  }
  if (!ops.set.empty()) headers["set"] = ops.set;
  if (!ops.remove.empty()) headers["remove"] = ops.remove;
  return headers;
}

// The part of the path a prefix_rewrite replaces.
std::optional<std::string> MatchedPrefix(const envoy::config::route::v3::RouteMatch& match) {
  switch (match.path_specifier_case()) {
    case envoy::config::route::v3::RouteMatch::kPrefix: return match.prefix();
    case envoy::config::route::v3::RouteMatch::kPath: return match.path();
    case envoy::config::route::v3::RouteMatch::kPathSeparatedPrefix: return match.path_separated_prefix();
    default: return std::nullopt;
  }
}

int RedirectCode(RedirectAction::RedirectResponseCode code) {
  switch (code) {
    case RedirectAction::FOUND: return 302;
    case RedirectAction::SEE_OTHER: return 303;
    case RedirectAction::TEMPORARY_REDIRECT: return 307;
    case RedirectAction::PERMANENT_REDIRECT: return 308;
    default: return 301;  // MOVED_PERMANENTLY, the enum's zero value
  }
}

bool TranslateRedirect(const envoy::config::route::v3::Route& route, const std::string& resource,
                       apisix::Route& out, Diagnostics& skipped) {
  const RedirectAction& r = route.redirect();
  json redirect;
  const bool changes_origin = r.has_scheme_redirect() || !r.host_redirect().empty() || r.port_redirect() != 0;
  if (r.https_redirect() && !!r.host_redirect().empty() && r.port_redirect() == 0 && !r.has_path_redirect() &&
      !r.has_prefix_rewrite() && !r.has_regex_rewrite()) {
    redirect["http_to_https"] = true;  // APISIX answers 301, Envoy's default for https_redirect
  } else if (r.has_prefix_rewrite() || r.has_regex_rewrite()) {
    if (changes_origin || r.https_redirect()) {
      skipped.push_back({resource, "redirect", "a path rewrite together with a scheme, host or port change"});
      return false;
    }
    if (r.has_regex_rewrite()) {
      redirect["regex_uri"] = {r.regex_rewrite().pattern().regex(), PcreSubstitution(r.regex_rewrite().substitution())};
    } else {
      auto prefix = MatchedPrefix(route.match());
      if (!prefix) {
        skipped.push_back({resource, "redirect.prefix_rewrite", "needs a prefix or path match"});
        return false;
      }
      redirect["regex_uri"] = {"^" + RegexEscape(*prefix) + "(.*)", r.prefix_rewrite() + "$1"};
    }
    redirect["ret_code"] = RedirectCode(r.response_code());
    if (!r.strip_query()) redirect["append_query_string"] = true;
  } else {
    std::string path = r.has_path_redirect() ? r.path_redirect() : "$uri";
    std::string uri = path;
    if (changes_origin || r.https_redirect()) {
      std::string scheme = r.https_redirect() ? "https" : (r.has_scheme_redirect() ? r.scheme_redirect() : "$scheme");
      std::string host = !r.host_redirect().empty() ? r.host_redirect() : "$host";
      std::string port = r.port_redirect() != 0 ? absl::StrCat(":", r.port_redirect()) : "";
      uri = absl::StrCat(scheme, "://", host, port, path);
    }
    redirect["uri"] = uri;
    redirect["ret_code"] = RedirectCode(r.response_code());
    if (!r.strip_query()) redirect["append_query_string"] = true;
  }
  out.plugins["redirect"] = std::move(redirect);
  return true;
}

}  // namespace

nlohmann::json OriginalDestinationPlugin(const std::string& location) {
  return {{"phase", "rewrite"},
          {"functions", json::array({absl::StrCat("return function(conf, ctx) return ngx.exec(\"", location,
                                                  "\") end")})}};
}

bool TranslateRouteAction(const envoy::config::route::v3::Route& route, const InheritedHeaders& inherited,
                          const UpstreamIndex& upstreams, const std::string& resource, apisix::Route& out,
                          Diagnostics& skipped) {
  // Header mutations: the route's own, then the virtual host's, then the configuration's.
  HeaderOps request, response;
  Collect(route.request_headers_to_add(), route.request_headers_to_remove(), request, resource,
          "request_headers_to_add", skipped);
  Collect(route.response_headers_to_add(), route.response_headers_to_remove(), response, resource,
          "response_headers_to_add", skipped);
  if (inherited.vhost != nullptr) {
    Collect(inherited.vhost->request_headers_to_add(), inherited.vhost->request_headers_to_remove(), request, resource,
            "virtual_host.request_headers_to_add", skipped);
    Collect(inherited.vhost->response_headers_to_add(), inherited.vhost->response_headers_to_remove(), response,
            resource, "virtual_host.response_headers_to_add", skipped);
  }
  if (inherited.config != nullptr) {
    Collect(inherited.config->request_headers_to_add(), inherited.config->request_headers_to_remove(), request,
            resource, "route_configuration.request_headers_to_add", skipped);
    Collect(inherited.config->response_headers_to_add(), inherited.config->response_headers_to_remove(), response,
            resource, "route_configuration.response_headers_to_add", skipped);
  }
  if (!response.empty()) out.plugins["response-rewrite"] = {{"headers", ResponseHeadersJson(response)}};

  switch (route.action_case()) {
    case envoy::config::route::v3::Route::kRedirect:
      return TranslateRedirect(route, resource, out, skipped);
    case envoy::config::route::v3::Route::kDirectResponse: {
      const auto& d = route.direct_response();
      if (d.status() < 200 || d.status() > 599) {
        skipped.push_back({resource, "direct_response.status",
                           absl::StrCat(d.status(), " is outside what APISIX can answer (200-599)")});
        return false;
      }
      json abort = {{"http_status", d.status()}};
      if (d.has_body()) {
        const std::string& body = d.body().has_inline_string() ? d.body().inline_string() : d.body().inline_bytes();
        if (!body.empty()) abort["body"] = body;
      }
      out.plugins["fault-injection"] = {{"abort", std::move(abort)}};  // no percentage: always
      return true;
    }
    case envoy::config::route::v3::Route::kRoute:
      break;
    default:
      skipped.push_back({resource, "action", "this route action has no APISIX equivalent"});
      return false;
  }

  const RouteAction& action = route.route();
  auto find = [&](const std::string& cluster) -> const UpstreamRef* {
    auto it = upstreams.find(cluster);
    if (it == upstreams.end()) {
      skipped.push_back({resource, "route.cluster", absl::StrCat("cluster ", cluster, " is not known")});
      return nullptr;
    }
    if (!it->second.unusable.empty()) {
      skipped.push_back({resource, "route.cluster", absl::StrCat("cluster ", cluster, ": ", it->second.unusable)});
      return nullptr;
    }
    return &it->second;
  };
  const UpstreamRef* primary = nullptr;
  switch (action.cluster_specifier_case()) {
    case RouteAction::kCluster:
      if ((primary = find(action.cluster())) == nullptr) return false;
      break;
    case RouteAction::kWeightedClusters: {
      const auto& clusters = action.weighted_clusters().clusters();
      if (clusters.empty()) {
        skipped.push_back({resource, "route.weighted_clusters", "no clusters"});
        return false;
      }
      json weighted = json::array();
      for (int i = 0; i < clusters.size(); ++i) {
        const UpstreamRef* ref = find(clusters[i].name());
        if (ref == nullptr) return false;
        if (!ref->original_destination_location.empty()) {
          skipped.push_back({resource, absl::StrCat("route.weighted_clusters.clusters[", i, "]"),
                             absl::StrCat(clusters[i].name(),
                                          " passes through to the original destination, which cannot be one branch "
                                          "of a traffic split")});
          return false;
        }
        const uint32_t weight = clusters[i].has_weight() ? clusters[i].weight().value() : 0;
        if (i == 0) {
          primary = ref;  // the route's own upstream: a weighted entry without upstream_id
          weighted.push_back({{"weight", weight}});
        } else {
          weighted.push_back({{"upstream_id", ref->id}, {"weight", weight}});
        }
        if (clusters[i].request_headers_to_add_size() > 0 || clusters[i].has_host_rewrite_literal()) {
          skipped.push_back({resource, absl::StrCat("route.weighted_clusters.clusters[", i, "]"),
                             "per-cluster header or host changes cannot be expressed per traffic-split branch"});
        }
      }
      out.plugins["traffic-split"] = {{"rules", json::array({{{"weighted_upstreams", std::move(weighted)}}})}};
      break;
    }
    default:
      skipped.push_back({resource, "route.cluster_specifier",
                         "cluster_header and cluster_specifier_plugin have no APISIX equivalent"});
      return false;
  }
  if (!primary->original_destination_location.empty()) {
    // Where the connection was going: the request leaves APISIX's plugins for the pass-through
    // location, so nothing else of the route would apply; say what is left out.
    if (!out.plugins.empty() || (action.has_timeout() && Seconds(action.timeout()) > 0) || action.has_regex_rewrite() || !action.prefix_rewrite().empty() ||
        action.has_host_rewrite_literal() || !request.empty() || action.request_mirror_policies_size() > 0) {
      skipped.push_back({resource, "route",
                         "a pass-through to the original destination applies no rewrite, header, mirror or timeout "
                         "of the route; they are left out"});
    }
    out.plugins = json::object();
    out.plugins["serverless-pre-function"] = OriginalDestinationPlugin(primary->original_destination_location);
    return true;
  }
  out.upstream_id = primary->id;

  // Envoy's timeout is end to end, "0s" disabling it; nginx's are per read and send. 0 keeps the
  // upstream's (60 s by default): APISIX has no infinite timeout.
  if (action.has_timeout() && Seconds(action.timeout()) > 0) {
    out.timeout_seconds = Seconds(action.timeout());
    out.timeout_connect_seconds = primary->connect_timeout_seconds;
  }

  json rewrite = json::object();
  if (action.has_regex_rewrite()) {
    rewrite["regex_uri"] = {action.regex_rewrite().pattern().regex(),
                            PcreSubstitution(action.regex_rewrite().substitution())};
  } else if (!action.prefix_rewrite().empty()) {
    auto prefix = MatchedPrefix(route.match());
    if (!prefix) {
      skipped.push_back({resource, "route.prefix_rewrite", "needs a prefix or path match; the rewrite is left out"});
    } else {
      rewrite["regex_uri"] = {"^" + RegexEscape(*prefix) + "(.*)", action.prefix_rewrite() + "$1"};
    }
  }
  if (action.has_host_rewrite_literal()) rewrite["host"] = action.host_rewrite_literal();
  if (!request.empty()) rewrite["headers"] = RequestHeadersJson(request);
  if (!rewrite.empty()) out.plugins["proxy-rewrite"] = std::move(rewrite);
  if (action.request_mirror_policies_size() > 0) {
    const auto& mirror = action.request_mirror_policies(0);
    auto target = upstreams.find(mirror.cluster());
    if (target == upstreams.end() || target->second.mirror_host.empty()) {
      skipped.push_back({resource, "route.request_mirror_policies",
                         absl::StrCat("mirror cluster ", mirror.cluster(), " has no known endpoint")});
    } else {
      json plugin = {{"host", target->second.mirror_host}};
      if (mirror.has_runtime_fraction()) {
        plugin["sample_ratio"] = Percent(mirror.runtime_fraction().default_value()) / 100.0;
      }
      out.plugins["proxy-mirror"] = std::move(plugin);
    }
    if (action.request_mirror_policies_size() > 1) {
      skipped.push_back({resource, "route.request_mirror_policies", "APISIX mirrors to one place; the first is used"});
    }
  }
  return true;
}

}  // namespace agent::translate
