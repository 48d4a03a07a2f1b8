// The etcd v3 API the agent serves, independent of transport: each call takes and returns etcd's
// own protobuf messages, with etcd's errors (gRPC codes and messages). The gRPC services and the
// HTTP/JSON gateway are thin adapters over it, so both protocols always agree.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "etcd/kv_write.h"
#include "etcd/watch_budget.h"
#include "etcd/watch_events.h"
#include "etcd/watch_registry.h"
#include "store/kv_store.h"

namespace agent::etcd {

struct EtcdApiOptions {
  // With both set, requests need a token from Authenticate (etcd's simple-token auth).
  std::string user;
  std::string password;
  size_t max_request_bytes = 1572864;  // etcd's default, 1.5 MiB
  WriteGuard guard;                     // which keys clients may not write
  WatchLimits watch_limits;
  // Both transports close a connection with nothing in flight for this long (an open watch is
  // in flight for as long as it lasts); zero = never. Longer than clients' own pool timeouts
  // (lua-resty-etcd's cosockets: 60 s) so the client, not the server, ends an idle connection.
  std::chrono::seconds idle_timeout{300};
  // Prometheus text for GET /metrics (etcd serves its metrics on the client port too): the agent's
  // registry, the same text as the admin endpoint's; unset = the store's revision alone.
  std::function<std::string()> metrics;
  // Called after every unary request (gRPC or the HTTP gateway): the method (gRPC's full name, or
  // the gateway's path), the protocol ("grpc" | "http"), the answer's code and the time taken.
  std::function<void(absl::string_view method, absl::string_view protocol, absl::StatusCode code, double seconds)>
      observe;
};

// etcd's answer for a version probe; the agent behaves as etcd 3.5 towards clients.
inline constexpr char kEtcdServerVersion[] = "3.5.0";
inline constexpr char kEtcdClusterVersion[] = "3.5.0";

class EtcdApi {
 public:
  EtcdApi(store::KvStore& store, ClusterIdentity identity, EtcdApiOptions options);

  store::KvStore& store() { return store_; }
  const ClusterIdentity& identity() const { return identity_; }
  size_t max_request_bytes() const { return options_.max_request_bytes; }
  std::chrono::seconds idle_timeout() const { return options_.idle_timeout; }
  std::string Metrics() const;
  void Observe(absl::string_view method, absl::string_view protocol, absl::StatusCode code, double seconds) const {
    if (options_.observe) options_.observe(method, protocol, code, seconds);
  }
  bool auth_enabled() const { return !options_.user.empty(); }
  WatchBudget& watch_budget() { return watch_budget_; }
  WatchRegistry& watch_registry() { return watch_registry_; }
  // What a new watch stream of `protocol` from `peer` shares with the others (budget, registry).
  WatchStreamContext WatchContext(WatchProtocol protocol, std::string peer) {
    return {&watch_budget_, &watch_registry_, protocol, std::move(peer), &watch_events_};
  }

  // OK when auth is off, or the token is one Authenticate issued. `token` empty = none sent.
  absl::Status Authorize(absl::string_view token);
  absl::Status CheckRequestSize(size_t bytes) const;

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& request);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(const etcdserverpb::DeleteRangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::CompactionResponse> Compact(const etcdserverpb::CompactionRequest& request);

  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(const etcdserverpb::LeaseGrantRequest& request);
  absl::StatusOr<etcdserverpb::LeaseRevokeResponse> LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& request);
  // One keep-alive; an unknown lease answers TTL 0, not an error (as etcd).
  etcdserverpb::LeaseKeepAliveResponse LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& request);
  etcdserverpb::LeaseTimeToLiveResponse LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& request);
  etcdserverpb::LeaseLeasesResponse LeaseLeases(const etcdserverpb::LeaseLeasesRequest& request);

  etcdserverpb::StatusResponse Status(const etcdserverpb::StatusRequest& request);
  etcdserverpb::MemberListResponse MemberList(const etcdserverpb::MemberListRequest& request);
  absl::StatusOr<etcdserverpb::AuthenticateResponse> Authenticate(const etcdserverpb::AuthenticateRequest& request);

 private:
  KvWriteContext WriteContext() { return KvWriteContext{store_, identity_, options_.guard}; }
  void Fill(etcdserverpb::ResponseHeader* header) const { identity_.Fill(header, store_.current_revision()); }

  store::KvStore& store_;
  const ClusterIdentity identity_;
  const EtcdApiOptions options_;
  WatchBudget watch_budget_;
  WatchRegistry watch_registry_;
  WatchEventCache watch_events_;  // one revision's events, encoded once for all watchers of a shape

  std::mutex token_mutex_;
  std::unordered_map<std::string, int64_t> tokens_;  // token → issue time (unix seconds)
  uint64_t token_index_ = 0;
};

}  // namespace agent::etcd
