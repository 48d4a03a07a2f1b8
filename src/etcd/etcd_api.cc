#include "etcd/etcd_api.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "etcd/kv_range.h"

namespace agent::etcd {

namespace {
// lua-resty-etcd re-authenticates every 3–4 minutes; tokens live longer than that.
constexpr int64_t kTokenLifetimeSeconds = 600;
}  // namespace

EtcdApi::EtcdApi(store::KvStore& store, ClusterIdentity identity, EtcdApiOptions options)
    : store_(store),
      identity_(std::move(identity)),
      options_(std::move(options)),
      watch_budget_(options_.watch_limits) {}

absl::Status EtcdApi::Authorize(absl::string_view token) {
  if (!auth_enabled()) return absl::OkStatus();
  // etcd's answers: no token means an anonymous user, which auth rejects by name.
  if (token.empty()) return absl::InvalidArgumentError("etcdserver: user name is empty");
  std::lock_guard lock(token_mutex_);
  auto it = tokens_.find(std::string(token));
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  if (it == tokens_.end() || now - it->second > kTokenLifetimeSeconds) {
    return absl::UnauthenticatedError("etcdserver: invalid auth token");
  }
  return absl::OkStatus();
}

absl::Status EtcdApi::CheckRequestSize(size_t bytes) const {
  if (bytes > options_.max_request_bytes) return absl::InvalidArgumentError("etcdserver: request is too large");
  return absl::OkStatus();
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdApi::Range(const etcdserverpb::RangeRequest& request) {
  return ExecuteRange(store_, identity_, request);
}
absl::StatusOr<etcdserverpb::PutResponse> EtcdApi::Put(const etcdserverpb::PutRequest& request) {
  return ExecutePut(WriteContext(), request);
}
absl::StatusOr<etcdserverpb::DeleteRangeResponse> EtcdApi::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& request) {
  return ExecuteDeleteRange(WriteContext(), request);
}
absl::StatusOr<etcdserverpb::TxnResponse> EtcdApi::Txn(const etcdserverpb::TxnRequest& request) {
  return ExecuteTxn(WriteContext(), request);
}
absl::StatusOr<etcdserverpb::CompactionResponse> EtcdApi::Compact(const etcdserverpb::CompactionRequest& request) {
  return ExecuteCompact(WriteContext(), request);
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdApi::LeaseGrant(const etcdserverpb::LeaseGrantRequest& request) {
  auto lease = store_.GrantLease(request.id(), request.ttl());
  if (!lease.ok()) return lease.status();
  etcdserverpb::LeaseGrantResponse response;
  Fill(response.mutable_header());
  response.set_id(lease->id);
  response.set_ttl(lease->granted_ttl);
  return response;
}

absl::StatusOr<etcdserverpb::LeaseRevokeResponse> EtcdApi::LeaseRevoke(
    const etcdserverpb::LeaseRevokeRequest& request) {
  auto revision = store_.RevokeLease(request.id());
  if (!revision.ok()) return revision.status();
  etcdserverpb::LeaseRevokeResponse response;
  identity_.Fill(response.mutable_header(), *revision);
  return response;
}

etcdserverpb::LeaseKeepAliveResponse EtcdApi::LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& request) {
  etcdserverpb::LeaseKeepAliveResponse response;
  auto ttl = store_.RenewLease(request.id());
  Fill(response.mutable_header());
  response.set_id(request.id());
  response.set_ttl(ttl.ok() ? *ttl : 0);
  return response;
}

etcdserverpb::LeaseTimeToLiveResponse EtcdApi::LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& request) {
  etcdserverpb::LeaseTimeToLiveResponse response;
  Fill(response.mutable_header());
  response.set_id(request.id());
  auto lease = store_.GetLease(request.id());
  if (!lease) {
    response.set_ttl(-1);
    return response;
  }
  response.set_ttl(lease->remaining_ttl);
  response.set_grantedttl(lease->granted_ttl);
  if (request.keys()) {
    for (const std::string& key : lease->keys) response.add_keys(key);
  }
  return response;
}

etcdserverpb::LeaseLeasesResponse EtcdApi::LeaseLeases(const etcdserverpb::LeaseLeasesRequest&) {
  etcdserverpb::LeaseLeasesResponse response;
  Fill(response.mutable_header());
  for (int64_t id : store_.LeaseIds()) response.add_leases()->set_id(id);
  return response;
}

etcdserverpb::StatusResponse EtcdApi::Status(const etcdserverpb::StatusRequest&) {
  etcdserverpb::StatusResponse response;
  Fill(response.mutable_header());
  const int64_t revision = response.header().revision();
  response.set_version(kEtcdServerVersion);
  response.set_leader(identity_.member_id);
  // There is no raft log: the revision is the closest thing to an applied index.
  response.set_raftindex(static_cast<uint64_t>(revision));
  response.set_raftappliedindex(static_cast<uint64_t>(revision));
  response.set_raftterm(identity_.raft_term);
  return response;
}

etcdserverpb::MemberListResponse EtcdApi::MemberList(const etcdserverpb::MemberListRequest&) {
  etcdserverpb::MemberListResponse response;
  Fill(response.mutable_header());
  auto* member = response.add_members();
  member->set_id(identity_.member_id);
  member->set_name("apisix-mesh-agent");
  member->add_clienturls(identity_.client_url);
  return response;
}

absl::StatusOr<etcdserverpb::AuthenticateResponse> EtcdApi::Authenticate(
    const etcdserverpb::AuthenticateRequest& request) {
  if (!auth_enabled()) return absl::FailedPreconditionError("etcdserver: authentication is not enabled");
  if (request.name() != options_.user || request.password() != options_.password) {
    return absl::InvalidArgumentError("etcdserver: authentication failed, invalid user ID or password");
  }
  static thread_local std::mt19937_64 random(std::random_device{}());
  std::string token;
  {
    std::lock_guard lock(token_mutex_);
    token = absl::StrFormat("%016x%016x.%d", random(), random(), ++token_index_);  // etcd: "<random>.<index>"
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      it = now - it->second > kTokenLifetimeSeconds ? tokens_.erase(it) : std::next(it);
    }
    tokens_[token] = now;
  }
  etcdserverpb::AuthenticateResponse response;
  Fill(response.mutable_header());
  response.set_token(token);
  return response;
}

}  // namespace agent::etcd

namespace agent::etcd {

std::string EtcdApi::Metrics() const {
  if (options_.metrics) return options_.metrics();
  // Without the agent's registry (an EtcdApi on its own): the revision, under the registry's name.
  return absl::StrCat("# HELP apisix_mesh_agent_store_revision The etcd revision served.\n",
                      "# TYPE apisix_mesh_agent_store_revision gauge\n", "apisix_mesh_agent_store_revision ",
                      store_.current_revision(), "\n");
}

}  // namespace agent::etcd
