#include "xds/ads_subscriptions.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace agent::xds {

namespace {

constexpr char kWholeType[] = "*";

template <typename Message>
const std::string& NameOf(const Message& message) {
  if constexpr (std::is_same_v<Message, envoy::config::endpoint::v3::ClusterLoadAssignment>) {
    return message.cluster_name();
  } else {
    return message.name();
  }
}

// Decodes one resource; on failure returns why, naming it as precisely as possible.
template <typename Message>
std::optional<std::string> Decode(const google::protobuf::Any& any, const std::string& fallback_name, Message& out) {
  if (!any.Is<Message>()) {
    return absl::StrCat(fallback_name, " has type ", any.type_url(), ", not ", Message::descriptor()->full_name());
  }
  if (!any.UnpackTo(&out)) return absl::StrCat(fallback_name, " does not decode");
  if (NameOf(out).empty()) return absl::StrCat(fallback_name, " has no name");
  return std::nullopt;
}

// Calls `fn` with the snapshot's map for `type`.
template <typename Fn>
auto WithResources(ResourceSnapshot& snapshot, const std::string& type, Fn&& fn) {
  if (type == kClusterType) return fn(snapshot.clusters);
  if (type == kClusterLoadAssignmentType) return fn(snapshot.cluster_load_assignments);
  if (type == kListenerType) return fn(snapshot.listeners);
  return fn(snapshot.route_configurations);
}

std::set<std::string> RouteConfigNames(const envoy::config::listener::v3::Listener& listener) {
  std::set<std::string> names;
  for (const auto& chain : listener.filter_chains()) {
    for (const auto& filter : chain.filters()) {
      envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
      if (filter.has_typed_config() && filter.typed_config().UnpackTo(&hcm) && hcm.has_rds()) {
        names.insert(hcm.rds().route_config_name());
      }
    }
  }
  return names;
}

// The names of the named type a wildcard resource needs: a cluster's EDS service, a listener's
// route configurations.
template <typename Message>
std::set<std::string> NamesAskedFor(const Message& message) {
  if constexpr (std::is_same_v<Message, envoy::config::cluster::v3::Cluster>) {
    if (message.type() == envoy::config::cluster::v3::Cluster::EDS) return {EdsServiceName(message)};
    return {};
  } else if constexpr (std::is_same_v<Message, envoy::config::listener::v3::Listener>) {
    return RouteConfigNames(message);
  } else {
    return {};
  }
}

}  // namespace

bool IsWildcardType(const std::string& type) { return type == kClusterType || type == kListenerType; }

std::vector<std::string> AdsSubscriptions::ApplyStateOfTheWorld(
    const std::string& type, const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources,
    const std::string& version) {
  const bool full_state = IsWildcardType(type);
  const ResourceUpdate update{std::make_shared<const std::string>(version), std::chrono::system_clock::now()};
  std::map<std::string, ResourceUpdate>& updated = updated_[type];
  received_types_.insert(type);
  Delivered(type, kWholeType);
  std::set<std::string>& changed = changes_.of(type);
  return WithResources(snapshot_, type, [&](auto& held) {
    using Message = typename std::remove_reference_t<decltype(held)>::mapped_type::message_type;
    std::vector<std::string> errors;
    std::set<std::string> present;
    for (int i = 0; i < resources.size(); ++i) {
      Message message;
      if (auto error = Decode(resources[i], absl::StrCat("resources[", i, "]"), message)) {
        errors.push_back(*error);
        continue;
      }
      std::string name = NameOf(message);
      if (!full_state && names(type).count(name) == 0) continue;  // not (or no longer) subscribed
      Delivered(type, name);
      present.insert(name);
      // By-name types are updated in place (a push carries a few of thousands); a resource sent
      // again unchanged is not a change.
      auto it = held.find(name);
      if (it != held.end() && it->second.bytes() == resources[i].value()) continue;
      changed.insert(name);
      updated[name] = update;
      if (full_state) asks_[type][name] = NamesAskedFor(message);
      held[name] = Packed<Message>::FromBytes(resources[i].value());
    }
    if (full_state) {
      // A full-state resource that was rejected cannot be told from a deleted one by name, so the
      // response's good resources define the set; SotW istiod resends everything on the next push.
      for (auto it = held.begin(); it != held.end();) {
        if (present.count(it->first) > 0) {
          ++it;
          continue;
        }
        changed.insert(it->first);
        updated.erase(it->first);
        asks_[type].erase(it->first);
        it = held.erase(it);
      }
      names_stale_ = true;
    }
    return errors;
  });
}

std::vector<std::string> AdsSubscriptions::ApplyDelta(
    const std::string& type,
    const google::protobuf::RepeatedPtrField<envoy::service::discovery::v3::Resource>& resources,
    const google::protobuf::RepeatedPtrField<std::string>& removed) {
  received_types_.insert(type);
  Delivered(type, kWholeType);
  const auto now = std::chrono::system_clock::now();
  std::map<std::string, ResourceUpdate>& updated = updated_[type];
  return WithResources(snapshot_, type, [&](auto& held) {
    std::vector<std::string> errors;
    for (const auto& resource : resources) {
      using Message = typename std::remove_reference_t<decltype(held)>::mapped_type::message_type;
      Message message;
      const std::string label = resource.name().empty() ? "a resource without a name" : resource.name();
      if (!resource.has_resource()) {
        errors.push_back(absl::StrCat(label, " carries no resource"));
        continue;
      }
      if (auto error = Decode(resource.resource(), label, message)) {
        errors.push_back(*error);
        continue;
      }
      if (!resource.name().empty() && resource.name() != NameOf(message)) {
        errors.push_back(absl::StrCat(resource.name(), " holds a resource named ", NameOf(message)));
        continue;
      }
      const std::string name = NameOf(message);
      if (!IsWildcardType(type) && names(type).count(name) == 0) continue;  // not (or no longer) subscribed
      Delivered(type, name);
      updated[name] = ResourceUpdate{std::make_shared<const std::string>(resource.version()), now};
      changes_.of(type).insert(name);
      if (IsWildcardType(type)) asks_[type][name] = NamesAskedFor(message);
      held[name] = Packed<Message>::FromBytes(resource.resource().value());
    }
    for (const std::string& name : removed) {
      if (held.erase(name) > 0) changes_.of(type).insert(name);
      if (IsWildcardType(type)) asks_[type].erase(name);
      updated.erase(name);
      Delivered(type, name);  // the server says it does not exist: nothing more to wait for
    }
    if (IsWildcardType(type)) names_stale_ = true;
    return errors;
  });
}

std::vector<std::string> AdsSubscriptions::RefreshNames(Clock::time_point now) {
  if (!names_stale_) return {};  // only clusters and listeners decide the names
  names_stale_ = false;
  std::set<std::string> eds;
  for (const auto& [name, asked] : asks_[kClusterType]) eds.insert(asked.begin(), asked.end());
  std::set<std::string> rds;
  for (const auto& [name, asked] : asks_[kListenerType]) rds.insert(asked.begin(), asked.end());

  std::vector<std::string> changed;
  for (auto& [type, wanted] : {std::pair<const char*, std::set<std::string>&>{kClusterLoadAssignmentType, eds},
                               {kRouteConfigurationType, rds}}) {
    std::set<std::string>& names = names_[type];
    if (wanted == names) continue;
    // What is held of a named type was subscribed to, so dropping the names drops the resources.
    for (const std::string& name : names) {
      if (wanted.count(name) > 0) continue;
      if (WithResources(snapshot_, type, [&](auto& held) { return held.erase(name) > 0; })) {
        changes_.of(type).insert(name);
      }
      Forget(type, name);
    }
    for (const std::string& name : wanted) {
      const bool held = WithResources(snapshot_, type, [&](auto& map) { return map.count(name) > 0; });
      if (!held && names.count(name) == 0) pending_[type].emplace(name, now);
    }
    names = std::move(wanted);
    ++names_generation_[type];
    changed.push_back(type);
  }
  return changed;
}

void AdsSubscriptions::StartWildcardClocks(Clock::time_point now) {
  for (const char* type : {kClusterType, kListenerType}) {
    if (received_types_.count(type) == 0) pending_[type].emplace(kWholeType, now);
  }
}

std::vector<std::string> AdsSubscriptions::ExpireOverdue(Clock::time_point now, std::chrono::milliseconds timeout) {
  std::vector<std::string> expired;
  for (auto& [type, names] : pending_) {
    for (auto it = names.begin(); it != names.end();) {
      if (now - it->second < timeout) {
        ++it;
        continue;
      }
      expired.push_back(absl::StrCat(type, " ", it->first == kWholeType ? "(any)" : it->first));
      it = names.erase(it);
    }
  }
  return expired;
}

bool AdsSubscriptions::Warming() const {
  for (const char* type : {kClusterLoadAssignmentType, kRouteConfigurationType}) {
    auto it = pending_.find(type);
    if (it != pending_.end() && !it->second.empty()) return true;
  }
  return false;
}

bool AdsSubscriptions::InitialRoundComplete() {
  if (initial_round_complete_) return true;
  for (const auto& [type, names] : pending_) {
    if (!names.empty()) return false;
  }
  // Both wildcard types answered (or given up on, which leaves no pending entry either).
  for (const char* type : {kClusterType, kListenerType}) {
    if (received_types_.count(type) == 0 && pending_.count(type) == 0) return false;
  }
  initial_round_complete_ = true;
  return true;
}

uint64_t AdsSubscriptions::names_generation(const std::string& type) const {
  auto it = names_generation_.find(type);
  return it == names_generation_.end() ? 0 : it->second;
}

const std::set<std::string>& AdsSubscriptions::names(const std::string& type) const {
  static const std::set<std::string> kNone;
  auto it = names_.find(type);
  return it == names_.end() ? kNone : it->second;
}

std::map<std::string, std::string> AdsSubscriptions::ResourceVersions(const std::string& type) const {
  std::map<std::string, std::string> out;
  if (auto it = updated_.find(type); it != updated_.end()) {
    for (const auto& [name, update] : it->second) out.emplace(name, *update.version);
  }
  return out;
}

const std::string& AdsSubscriptions::accepted_version(const std::string& type) const {
  static const std::string kNone;
  auto it = accepted_.find(type);
  return it == accepted_.end() ? kNone : it->second;
}

void AdsSubscriptions::Delivered(const std::string& type, const std::string& name) {
  auto it = pending_.find(type);
  if (it != pending_.end()) it->second.erase(name);
}

void AdsSubscriptions::Forget(const std::string& type, const std::string& name) {
  Delivered(type, name);
  updated_[type].erase(name);
}

const ResourceUpdate* AdsSubscriptions::UpdateOf(const std::string& type, const std::string& name) const {
  auto of_type = updated_.find(type);
  if (of_type == updated_.end()) return nullptr;
  auto it = of_type->second.find(name);
  return it == of_type->second.end() ? nullptr : &it->second;
}

}  // namespace agent::xds

namespace agent::xds {

void AdsSubscriptions::RecordResponse(const std::string& type, const std::string& nonce) {
  TypeSyncStatus& s = exchange_[type];
  ++s.responses;
  s.last_nonce = nonce;
  s.last_response = std::chrono::system_clock::now();
}

void AdsSubscriptions::RecordAck(const std::string& type) { ++exchange_[type].acks; }

void AdsSubscriptions::RecordNack(const std::string& type, const std::string& detail) {
  TypeSyncStatus& s = exchange_[type];
  ++s.nacks;
  s.last_nack = detail;
  s.last_nack_time = std::chrono::system_clock::now();
}

std::vector<TypeSyncStatus> AdsSubscriptions::SyncStatus() const {
  std::vector<TypeSyncStatus> out;
  for (const char* type : kAdsTypes) {
    TypeSyncStatus s;
    if (auto it = exchange_.find(type); it != exchange_.end()) s = it->second;
    s.type = type;
    s.wildcard = IsWildcardType(type);
    s.subscribed_names = s.wildcard ? 0 : names(type).size();
    s.accepted_version = accepted_version(type);
    s.resources = snapshot_.CountOf(type);
    if (auto it = pending_.find(type); it != pending_.end()) s.pending = it->second.size();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace agent::xds
