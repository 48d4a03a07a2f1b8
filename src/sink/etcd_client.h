// A client of an external etcd v3 cluster, with the semantics of etcd's own client (clientv3) that
// the sink relies on: several endpoints, one used at a time and the next tried when it is
// unreachable or has no leader; auth tokens (user/password), re-requested when the cluster says a
// token is no longer valid; TLS with an optional client certificate; a deadline on every call.
// Thread-safe: the sink's writer and its lease keeper share one client.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace agent::sink {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // http(s)://host:port; all of one scheme
  std::string user;                    // with password: etcd auth
  std::string password;
  std::string ca_file;    // https: the CA bundle that signed the members' certificates (default: system roots)
  std::string cert_file;  // https: a client certificate and key, for --client-cert-auth clusters
  std::string key_file;
  std::chrono::milliseconds timeout{5000};  // per call
};

class EtcdClient {
 public:
  // Checks the endpoints (scheme, host:port) and reads the TLS files; connects lazily.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds);
  absl::Status LeaseRevoke(int64_t lease);
  // One keep-alive of `lease`; the TTL left (0: the lease has expired or is unknown).
  absl::StatusOr<int64_t> KeepAliveOnce(int64_t lease);
  // Watches `key` from `revision` for at most `max_wait`: true once it is deleted, false when the
  // time passed without that (or the history was compacted: the caller looks again).
  absl::StatusOr<bool> WaitForDelete(const std::string& key, int64_t revision, std::chrono::milliseconds max_wait);

  // The endpoint calls go to now (for logs and /syncz).
  std::string endpoint() const;

 private:
  struct Member {
    std::string url;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
    std::string token;  // guarded by mutex_
  };

  explicit EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {}
  // Runs `call` on the current member, moving on to the next one when it is unreachable or
  // leaderless, at most once around the list; authenticates first when auth is on.
  template <typename Call>
  absl::Status WithFailover(const char* what, Call&& call);
  // One unary call of `method` on the member's `stub`, with failover.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Unary(const char* what, std::unique_ptr<Stub> Member::*stub,
                                 grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                                 const Request& request);
  absl::Status Authenticate(Member& member);
  void Prepare(grpc::ClientContext& context, Member& member, std::chrono::milliseconds timeout);

  const EtcdClientOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> current_{0};
  mutable std::mutex mutex_;  // the tokens
};

}  // namespace agent::sink
