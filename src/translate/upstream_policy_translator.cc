#include "translate/upstream_policy_translator.h"

#include <optional>
#include <set>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace agent::translate {

using envoy::config::route::v3::RouteAction;

namespace {

struct HashKey {
  std::string hash_on;
  std::string key;
  bool operator<(const HashKey& o) const { return std::tie(hash_on, key) < std::tie(o.hash_on, o.key); }
};

// Envoy hash policies as APISIX's hash_on/key; nullopt if one cannot be expressed.
std::optional<HashKey> ToHashKey(const google::protobuf::RepeatedPtrField<RouteAction::HashPolicy>& policies) {
  std::vector<std::pair<std::string, std::string>> parts;  // (hash_on, key) of each single policy
  for (const auto& p : policies) {
    switch (p.policy_specifier_case()) {
      case RouteAction::HashPolicy::kHeader:
        // nginx's spelling of a header variable: lower case, dashes as underscores.
        parts.push_back({"header", absl::StrReplaceAll(absl::AsciiStrToLower(p.header().header_name()), {{"-", "_"}})});
        break;
      case RouteAction::HashPolicy::kCookie: parts.push_back({"cookie", p.cookie().name()}); break;
      case RouteAction::HashPolicy::kConnectionProperties:
        if (!p.connection_properties().source_ip()) continue;
        parts.push_back({"vars", "remote_addr"});
        break;
      case RouteAction::HashPolicy::kQueryParameter: parts.push_back({"vars", "arg_" + p.query_parameter().name()}); break;
      default: return std::nullopt;  // filter_state
    }
  }
  // The same key twice (Consul repeats cookies) hashes the same as once.
  std::vector<std::pair<std::string, std::string>> unique;
  for (auto& part : parts) {
    if (std::find(unique.begin(), unique.end(), part) == unique.end()) unique.push_back(std::move(part));
  }
  parts = std::move(unique);
  if (parts.empty()) return std::nullopt;
  if (parts.size() == 1) return HashKey{parts[0].first, parts[0].second};
  std::string combined;
  for (const auto& [on, key] : parts) {
    if (on == "header") absl::StrAppend(&combined, "$http_", key);
    else if (on == "cookie") absl::StrAppend(&combined, "$cookie_", key);
    else absl::StrAppend(&combined, "$", key);
  }
  return HashKey{"vars_combinations", combined};
}

}  // namespace

std::vector<RoutePolicy> CollectRoutePolicies(const envoy::config::route::v3::RouteConfiguration& config) {
  std::vector<RoutePolicy> out;
  for (const auto& vhost : config.virtual_hosts()) {
    for (const auto& route : vhost.routes()) {
      if (!route.has_route()) continue;
      const RouteAction& action = route.route();
      const auto& retry = action.has_retry_policy() ? action.retry_policy() : vhost.retry_policy();
      const bool has_retry = action.has_retry_policy() || vhost.has_retry_policy();
      auto hash = ToHashKey(action.hash_policy());
      if (!has_retry && !hash) continue;
      std::vector<std::string> clusters;
      if (action.cluster_specifier_case() == RouteAction::kCluster) clusters.push_back(action.cluster());
      for (const auto& c : action.weighted_clusters().clusters()) clusters.push_back(c.name());
      for (std::string& cluster : clusters) {
        RoutePolicy policy;
        policy.cluster = std::move(cluster);
        // Envoy retries once when a retry policy leaves num_retries unset.
        if (has_retry) policy.retries = retry.has_num_retries() ? retry.num_retries().value() : 1;
        if (hash) {
          policy.hash_on = hash->hash_on;
          policy.key = hash->key;
        }
        out.push_back(std::move(policy));
      }
    }
  }
  return out;
}

void ApplyRoutePoliciesToUpstreams(const std::vector<const std::vector<RoutePolicy>*>& policies,
                                   const std::map<std::string, std::string>& upstream_ids,
                                   std::vector<apisix::Upstream>& upstreams, Diagnostics& skipped) {
  std::map<std::string, std::set<uint32_t>> retries;  // upstream ID → retry counts asked for
  std::map<std::string, std::set<HashKey>> hashes;
  for (const std::vector<RoutePolicy>* of_config : policies) {
    for (const RoutePolicy& policy : *of_config) {
      auto id = upstream_ids.find(policy.cluster);
      if (id == upstream_ids.end()) continue;
      if (policy.retries) retries[id->second].insert(*policy.retries);
      if (policy.hash_on) hashes[id->second].insert(HashKey{*policy.hash_on, policy.key});
    }
  }
  for (apisix::Upstream& upstream : upstreams) {
    const std::string resource = absl::StrCat("Cluster ", upstream.name);
    if (auto r = retries.find(upstream.id); r != retries.end()) {
      upstream.retries = *r->second.rbegin();
      if (r->second.size() > 1) {
        skipped.push_back({resource, "routes' retry_policy.num_retries",
                           absl::StrCat("routes ask for different retry counts; APISIX retries per upstream: ",
                                        upstream.retries.value(), " (the largest) is used")});
      }
    }
    if (upstream.type != "chash") continue;  // Envoy ignores hash policies without a hashing balancer
    if (auto h = hashes.find(upstream.id); h != hashes.end()) {
      upstream.hash_on = h->second.begin()->hash_on;
      upstream.key = h->second.begin()->key;
      if (h->second.size() > 1) {
        skipped.push_back({resource, "routes' hash_policy",
                           "routes hash on different keys; APISIX hashes per upstream: the first is used"});
      }
    }
  }
}

}  // namespace agent::translate
