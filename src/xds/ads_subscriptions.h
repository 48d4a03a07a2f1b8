// What an ADS client holds and wants, whichever wire protocol carries it (SotW or Delta): the
// resources received per type, the names the named types must be subscribed to (the EDS service
// names of the clusters, the RDS names of the listeners), the last accepted version per type,
// the resources asked for but not delivered yet (Envoy's initial-fetch rule: after a timeout they
// are treated as absent), and whether the first complete CDS+EDS+LDS+RDS round is in.
//
// Pure state, no I/O and no locking: the client serializes access.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/repeated_ptr_field.h>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/resource_snapshot.h"

namespace agent::xds {

// Clusters and listeners are subscribed to as a whole (wildcard); the other two by name.
bool IsWildcardType(const std::string& type);

// The types an ADS client subscribes to, in istiod's push order (clusters before their
// endpoints, listeners before their routes).
inline constexpr const char* kAdsTypes[] = {kClusterType, kClusterLoadAssignmentType, kListenerType,
                                            kRouteConfigurationType};

// What /syncz shows of one type (istioctl proxy-status's view of one proxy).
struct TypeSyncStatus {
  std::string type;
  size_t resources = 0;
  size_t subscribed_names = 0;  // the named types; wildcard types subscribe to everything
  bool wildcard = false;
  std::string accepted_version;
  std::string last_nonce;
  uint64_t responses = 0, acks = 0, nacks = 0;
  std::chrono::system_clock::time_point last_response{};
  std::string last_nack;  // the NACK's error detail
  std::chrono::system_clock::time_point last_nack_time{};
  size_t pending = 0;  // asked for, not delivered yet (warming)
};

// When a resource held last changed, and the version that changed it (the response's for SotW,
// the resource's own for Delta): Envoy's config_dump `last_updated` and `version_info`.
struct ResourceUpdate {
  std::shared_ptr<const std::string> version;  // shared by every resource one response changed
  std::chrono::system_clock::time_point at{};
};

class AdsSubscriptions {
 public:
  using Clock = std::chrono::steady_clock;

  // The exchange, for /syncz and the metrics: a response of `type` arrived, and was ACKed or NACKed.
  void RecordResponse(const std::string& type, const std::string& nonce);
  void RecordAck(const std::string& type);
  void RecordNack(const std::string& type, const std::string& detail);
  std::vector<TypeSyncStatus> SyncStatus() const;

  // A SotW response. Cluster and Listener responses are the complete state (a resource missing
  // from it was deleted); the named types are upserts by name. A resource that does not decode is
  // reported (one message each) and the others still apply (gRPC A46); on a full-state type the
  // rejected resource keeps its previous value.
  // `version` is the response's version_info (recorded for the resources it changes).
  std::vector<std::string> ApplyStateOfTheWorld(const std::string& type,
                                                const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources,
                                                const std::string& version = "");

  // A Delta response: added or updated resources (with their versions) and removed names.
  std::vector<std::string> ApplyDelta(
      const std::string& type,
      const google::protobuf::RepeatedPtrField<envoy::service::discovery::v3::Resource>& resources,
      const google::protobuf::RepeatedPtrField<std::string>& removed);

  // Recomputes the names the named types need from the clusters and listeners held; resources no
  // longer wanted are dropped, and names not delivered yet start their clock. Returns the named
  // types whose name set changed.
  std::vector<std::string> RefreshNames(Clock::time_point now);

  // Starts the clock for the wildcard types not received yet (at the first stream).
  void StartWildcardClocks(Clock::time_point now);

  // Gives up on what was asked for more than `timeout` ago and is still missing: returns one
  // "TYPE NAME" per resource newly treated as absent (each is reported once).
  std::vector<std::string> ExpireOverdue(Clock::time_point now, std::chrono::milliseconds timeout);

  // Some ClusterLoadAssignment or RouteConfiguration asked for has not arrived yet (nor been given
  // up on): what is held would publish clusters without endpoints or listeners without routes.
  bool Warming() const;

  // Every type has been received (or given up on), and every name asked for has been delivered
  // (or given up on). Once true, stays true.
  bool InitialRoundComplete();

  const std::set<std::string>& names(const std::string& type) const;
  // Changes whenever names(type) does: lets a stream keep a request's name list between ACKs.
  uint64_t names_generation(const std::string& type) const;
  // The versions of the resources held (Delta's initial_resource_versions on a reconnect; over
  // SotW, the versions of the responses that last changed them).
  std::map<std::string, std::string> ResourceVersions(const std::string& type) const;
  // The last version accepted (ACKed) of a type; NACKs repeat it.
  const std::string& accepted_version(const std::string& type) const;
  void set_accepted_version(const std::string& type, std::string version) { accepted_[type] = std::move(version); }

  // When each resource held of `type` last changed; nullptr for a name not held.
  const ResourceUpdate* UpdateOf(const std::string& type, const std::string& name) const;

  const ResourceSnapshot& snapshot() const { return snapshot_; }
  // What changed since the last TakeChanges() (the consumer's last update).
  SnapshotChanges TakeChanges() { return std::exchange(changes_, {}); }

 private:
  void Delivered(const std::string& type, const std::string& name);
  void Forget(const std::string& type, const std::string& name);

  ResourceSnapshot snapshot_;
  SnapshotChanges changes_;
  bool names_stale_ = true;  // clusters or listeners changed: the named types' names may have
  // Clusters' EDS service names and listeners' RDS names, by type and resource: what RefreshNames
  // needs of the held resources without decoding them all again.
  std::map<std::string, std::map<std::string, std::set<std::string>>> asks_;
  std::map<std::string, std::set<std::string>> names_;                      // named types only
  std::map<std::string, uint64_t> names_generation_;
  // type → name → last change; over Delta its versions are the resources' own (ResourceVersions).
  std::map<std::string, std::map<std::string, ResourceUpdate>> updated_;
  std::map<std::string, std::string> accepted_;                             // type → version
  std::map<std::string, std::map<std::string, Clock::time_point>> pending_;  // asked, not delivered; "*" = the type
  std::set<std::string> received_types_;
  std::map<std::string, TypeSyncStatus> exchange_;  // type → counters, nonce, last NACK
  bool initial_round_complete_ = false;
};

}  // namespace agent::xds
