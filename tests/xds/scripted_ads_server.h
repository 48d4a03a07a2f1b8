// A scriptable ADS management server for the ADS client's tests. It follows istiod's request
// handling (reference/xds-istio.md §2.2 and §3) rather than answering everything, so a client
// that sends stale nonces, empty name lists or subscription changes inside ACKs fails the tests
// the way it would fail against istiod:
//   SotW:  error_detail → recorded, no answer; empty names on a named type → unsubscribe, no
//          answer; empty nonce or a new watch → the whole subscribed set; a nonce that is not the
//          last one sent for the type → stale, ignored (a lost subscription change is counted);
//          names added in an ACK → those names pushed.
//   Delta: a non-empty nonce that is not the last one → stale, ignored; an empty nonce changes the
//          subscription (new names answered); initial_resource_versions suppress unchanged
//          resources; wildcard pushes carry removed_resources.
// Tests set each type's resources, push them, hold some back, and inspect every request received.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "common/stable_hash.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/ads_subscriptions.h"

namespace agent::xds::testing {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

class ScriptedAdsServer final : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  // ---- the script ----

  // The resources of a type from now on (sent on the next subscription or push).
  void Set(const std::string& type, std::string version, std::vector<google::protobuf::Any> resources) {
    std::lock_guard lock(mutex_);
    state_[type] = {std::move(version), std::move(resources)};
    index_.erase(type);
  }
  // Set, then send to the live stream what the client is subscribed to of it.
  void Push(const std::string& type, std::string version, std::vector<google::protobuf::Any> resources) {
    std::lock_guard lock(mutex_);
    state_[type] = {std::move(version), std::move(resources)};
    index_.erase(type);
    PushLocked(type);
  }
  // Replaces some resources of a type (by name) and sends only those, as istiod's incremental
  // endpoint pushes do (SotW: a response with just them; Delta: just their new versions).
  void PushOnly(const std::string& type, std::string version, std::vector<google::protobuf::Any> changed) {
    std::lock_guard lock(mutex_);
    auto& [current_version, resources] = state_[type];
    current_version = std::move(version);
    auto& index = IndexLocked(type);  // a push of one costs one (benchmarks push into 10,000)
    std::set<std::string> names;
    for (const auto& any : changed) {
      const std::string name = NameOf(any);
      names.insert(name);
      auto it = index.find(name);
      if (it != index.end()) {
        resources[it->second] = any;
      } else {
        index[name] = resources.size();
        resources.push_back(any);
      }
    }
    if (watches_.count(type) == 0) return;
    if (sotw_ != nullptr) SendSotwLocked(type, names);
    if (delta_ != nullptr) SendDeltaSubsetLocked(type, changed);
  }
  // A resource the server does not send (a slow or broken control plane) until released.
  void Withhold(const std::string& type, const std::string& name) {
    std::lock_guard lock(mutex_);
    withheld_.insert(type + " " + name);
  }
  void Release(const std::string& type, const std::string& name) {
    std::lock_guard lock(mutex_);
    withheld_.erase(type + " " + name);
    auto watch = watches_.find(type);
    if (watch == watches_.end()) return;
    if (sotw_ != nullptr) SendSotwLocked(type, {name});
    if (delta_ != nullptr) SendDeltaLocked(type);
  }

  // ---- what the client did ----

  // The last SotW request of `type` satisfying `pred`, waiting at most 10 s.
  std::optional<DiscoveryRequest> WaitFor(const std::string& type, const std::function<bool(const DiscoveryRequest&)>& pred) {
    return WaitIn(requests_, type, pred);
  }
  std::optional<DeltaDiscoveryRequest> WaitForDelta(const std::string& type,
                                                    const std::function<bool(const DeltaDiscoveryRequest&)>& pred) {
    return WaitIn(delta_requests_, type, pred);
  }
  std::vector<DiscoveryRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<DeltaDiscoveryRequest> delta_requests() {
    std::lock_guard lock(mutex_);
    return delta_requests_;
  }
  std::string authorization() {
    std::lock_guard lock(mutex_);
    return authorization_;
  }
  std::string last_nonce(const std::string& type) {
    std::lock_guard lock(mutex_);
    return nonces_[type];
  }
  // Stale requests (an ACK racing a newer push is normal) that tried to change a subscription:
  // istiod drops those changes, so a client that makes them can miss resources for good.
  int streams_opened() {
    std::lock_guard lock(mutex_);
    return streams_;
  }
  int lost_subscription_changes() {
    std::lock_guard lock(mutex_);
    return lost_changes_;
  }

  // ---- the protocol ----

  grpc::Status StreamAggregatedResources(grpc::ServerContext* context,
                                         grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream) override {
    OpenStream(context, stream, nullptr);
    DiscoveryRequest request;
    while (stream->Read(&request)) {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      cv_.notify_all();
      HandleLocked(request);
    }
    CloseStream();
    return grpc::Status::OK;
  }

  grpc::Status DeltaAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<DeltaDiscoveryResponse, DeltaDiscoveryRequest>* stream) override {
    OpenStream(context, nullptr, stream);
    DeltaDiscoveryRequest request;
    while (stream->Read(&request)) {
      std::lock_guard lock(mutex_);
      delta_requests_.push_back(request);
      cv_.notify_all();
      HandleDeltaLocked(request);
    }
    CloseStream();
    return grpc::Status::OK;
  }

 private:
  struct Watch {
    bool wildcard = false;
    std::set<std::string> names;
    std::map<std::string, std::string> sent;  // Delta: name → version the client has
  };

  static std::string NameOf(const google::protobuf::Any& any) {
    if (any.Is<envoy::config::endpoint::v3::ClusterLoadAssignment>()) {
      envoy::config::endpoint::v3::ClusterLoadAssignment cla;
      any.UnpackTo(&cla);
      return cla.cluster_name();
    }
    // Every other type has `name` as field 1: decode through the generic Listener-shaped view.
    envoy::config::cluster::v3::Cluster named;
    named.ParsePartialFromString(any.value());
    return named.name();
  }
  static std::string VersionOf(const google::protobuf::Any& any) {
    return std::to_string(StableHash64(any.value()));
  }

  void OpenStream(grpc::ServerContext* context, grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* sotw,
                  grpc::ServerReaderWriter<DeltaDiscoveryResponse, DeltaDiscoveryRequest>* delta) {
    std::lock_guard lock(mutex_);
    ++streams_;
    sotw_ = sotw;
    delta_ = delta;
    watches_.clear();
    sent_once_.clear();
    nonces_.clear();
    auto auth = context->client_metadata().find("authorization");
    if (auth != context->client_metadata().end()) authorization_ = std::string(auth->second.data(), auth->second.size());
  }
  void CloseStream() {
    std::lock_guard lock(mutex_);
    sotw_ = nullptr;
    delta_ = nullptr;
  }

  void HandleLocked(const DiscoveryRequest& request) {
    const std::string& type = request.type_url();
    if (request.has_error_detail()) return;  // NACK: istiod records it and sends nothing
    std::set<std::string> names(request.resource_names().begin(), request.resource_names().end());
    if (!IsWildcardType(type) && names.empty()) {  // unsubscribe
      watches_.erase(type);
      return;
    }
    auto watch = watches_.find(type);
    if (request.response_nonce().empty() || watch == watches_.end()) {
      watches_[type] = {IsWildcardType(type), names, {}};
      SendSotwLocked(type, names);
      return;
    }
    if (request.response_nonce() != nonces_[type]) {
      if (names != watch->second.names) ++lost_changes_;
      return;
    }
    std::set<std::string> added;
    for (const std::string& name : names) {
      if (watch->second.names.count(name) == 0) added.insert(name);
    }
    watch->second.names = names;
    if (!added.empty()) SendSotwLocked(type, added);  // istiod 1.22+: only the added names
  }

  void HandleDeltaLocked(const DeltaDiscoveryRequest& request) {
    const std::string& type = request.type_url();
    if (!request.response_nonce().empty()) {
      // An ACK or NACK (or a stale request): istiod ignores any subscription change riding on it.
      if (request.resource_names_subscribe_size() + request.resource_names_unsubscribe_size() > 0) ++lost_changes_;
      return;
    }
    Watch& watch = watches_[type];
    const bool first = watch.names.empty() && !watch.wildcard && watch.sent.empty();
    if (first && IsWildcardType(type) && request.resource_names_subscribe().empty()) watch.wildcard = true;
    for (const auto& [name, version] : request.initial_resource_versions()) watch.sent[name] = version;
    for (const std::string& name : request.resource_names_subscribe()) watch.names.insert(name);
    for (const std::string& name : request.resource_names_unsubscribe()) {
      watch.names.erase(name);
      watch.sent.erase(name);
    }
    SendDeltaLocked(type);
  }

  void PushLocked(const std::string& type) {
    auto watch = watches_.find(type);
    if (watch == watches_.end()) return;
    if (sotw_ != nullptr) SendSotwLocked(type, watch->second.names);
    if (delta_ != nullptr) SendDeltaLocked(type);
  }

  // name → position in state_[type], built when first needed.
  std::map<std::string, size_t>& IndexLocked(const std::string& type) {
    auto& index = index_[type];
    const auto& resources = state_[type].second;
    if (index.size() != resources.size()) {
      index.clear();
      for (size_t i = 0; i < resources.size(); ++i) index[NameOf(resources[i])] = i;
    }
    return index;
  }

  bool Withheld(const std::string& type, const std::string& name) const { return withheld_.count(type + " " + name) > 0; }
  bool Wanted(const std::string& type, const Watch& watch, const std::string& name) const {
    return !Withheld(type, name) && (watch.wildcard || watch.names.count(name) > 0);
  }

  void SendSotwLocked(const std::string& type, const std::set<std::string>& names) {
    if (sotw_ == nullptr || state_.count(type) == 0) return;
    DiscoveryResponse response;
    response.set_type_url(type);
    response.set_version_info(state_[type].first);
    response.set_nonce(absl::StrCat("n", ++nonce_));
    const auto& resources = state_[type].second;
    if (!IsWildcardType(type) && names.size() * 8 < resources.size()) {
      // A few names of many (an incremental push): look them up rather than decode every resource.
      const auto& index = IndexLocked(type);
      for (const std::string& name : names) {
        auto it = index.find(name);
        if (it != index.end() && !Withheld(type, name)) *response.add_resources() = resources[it->second];
      }
    } else {
      for (const auto& any : resources) {
        const std::string name = NameOf(any);
        if (Withheld(type, name)) continue;
        if (IsWildcardType(type) || names.count(name) > 0) *response.add_resources() = any;
      }
    }
    if (!IsWildcardType(type) && response.resources_size() == 0) return;
    nonces_[type] = response.nonce();
    sotw_->Write(response);
  }

  // Sends what changed for the client's subscription: new or different versions, and (wildcard)
  // the names it has that are gone.
  void SendDeltaLocked(const std::string& type) {
    if (delta_ == nullptr || state_.count(type) == 0) return;
    Watch& watch = watches_[type];
    DeltaDiscoveryResponse response;
    response.set_type_url(type);
    response.set_system_version_info(state_[type].first);
    std::set<std::string> present;
    for (const auto& any : state_[type].second) {
      const std::string name = NameOf(any);
      if (!Wanted(type, watch, name)) continue;
      present.insert(name);
      const std::string version = VersionOf(any);
      if (watch.sent.count(name) > 0 && watch.sent[name] == version) continue;
      auto* resource = response.add_resources();
      resource->set_name(name);
      resource->set_version(version);
      *resource->mutable_resource() = any;
      watch.sent[name] = version;
    }
    for (auto it = watch.sent.begin(); it != watch.sent.end();) {
      if (present.count(it->first) > 0 || Withheld(type, it->first)) {
        ++it;
        continue;
      }
      response.add_removed_resources(it->first);
      it = watch.sent.erase(it);
    }
    if (response.resources_size() == 0 && response.removed_resources_size() == 0 && !(watch.wildcard && !sent_once_[type])) {
      return;
    }
    sent_once_[type] = true;
    response.set_nonce(absl::StrCat("d", ++nonce_));
    nonces_[type] = response.nonce();
    delta_->Write(response);
  }

  void SendDeltaSubsetLocked(const std::string& type, const std::vector<google::protobuf::Any>& changed) {
    Watch& watch = watches_[type];
    DeltaDiscoveryResponse response;
    response.set_type_url(type);
    response.set_system_version_info(state_[type].first);
    for (const auto& any : changed) {
      const std::string name = NameOf(any);
      if (!Wanted(type, watch, name)) continue;
      auto* resource = response.add_resources();
      resource->set_name(name);
      resource->set_version(VersionOf(any));
      *resource->mutable_resource() = any;
      watch.sent[name] = resource->version();
    }
    if (response.resources_size() == 0) return;
    response.set_nonce(absl::StrCat("d", ++nonce_));
    nonces_[type] = response.nonce();
    delta_->Write(response);
  }

  template <typename Request>
  std::optional<Request> WaitIn(const std::vector<Request>& requests, const std::string& type,
                                const std::function<bool(const Request&)>& pred) {
    std::unique_lock lock(mutex_);
    std::optional<Request> found;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
        if (it->type_url() == type && pred(*it)) {
          found = *it;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* sotw_ = nullptr;
  grpc::ServerReaderWriter<DeltaDiscoveryResponse, DeltaDiscoveryRequest>* delta_ = nullptr;
  std::vector<DiscoveryRequest> requests_;
  std::vector<DeltaDiscoveryRequest> delta_requests_;
  std::map<std::string, std::pair<std::string, std::vector<google::protobuf::Any>>> state_;
  std::map<std::string, std::map<std::string, size_t>> index_;  // type → name → position in state_
  std::map<std::string, Watch> watches_;
  std::map<std::string, std::string> nonces_;
  std::map<std::string, bool> sent_once_;
  std::set<std::string> withheld_;  // "TYPE NAME"
  int nonce_ = 0;
  int lost_changes_ = 0;
  int streams_ = 0;
  std::string authorization_;
};

}  // namespace agent::xds::testing
