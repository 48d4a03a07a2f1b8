#include <algorithm>

#include "store/kv_store.h"

namespace agent::store {

namespace {
int64_t RemainingSeconds(std::chrono::steady_clock::time_point expiry, std::chrono::steady_clock::time_point now) {
  if (expiry <= now) return 0;
  // Whole seconds left, rounded down, as etcd reports them (59 right after a 60 s grant).
  return std::chrono::duration_cast<std::chrono::seconds>(expiry - now).count();
}
}  // namespace

void KvStore::AttachLease(const std::string& key, int64_t old_lease, int64_t new_lease) {
  if (old_lease == new_lease) return;
  if (auto it = leases_.find(old_lease); old_lease != 0 && it != leases_.end()) it->second.keys.erase(key);
  if (auto it = leases_.find(new_lease); new_lease != 0 && it != leases_.end()) it->second.keys.insert(key);
}

absl::StatusOr<LeaseInfo> KvStore::GrantLease(int64_t id, int64_t ttl_seconds) {
  if (id < 0) return absl::InvalidArgumentError("etcdserver: lease ID must be positive");  // etcd: negative IDs are rejected
  if (ttl_seconds > 9000000000LL) return absl::OutOfRangeError("etcdserver: too large lease TTL");
  // etcd raises a TTL below its minimum (1.5 election timeouts, 2 s with the defaults) to it;
  // 0 or a negative TTL is not an error.
  constexpr int64_t kMinTtlSeconds = 2;
  ttl_seconds = std::max(ttl_seconds, kMinTtlSeconds);
  std::unique_lock lock(mutex_);
  if (id == 0) {
    while (leases_.count(next_lease_id_) > 0) ++next_lease_id_;
    id = next_lease_id_++;
  } else if (leases_.count(id) > 0) {
    return absl::FailedPreconditionError("etcdserver: lease already exists");
  }
  Lease& lease = leases_[id];
  lease.granted_ttl = ttl_seconds;
  lease.expiry = options_.clock() + std::chrono::seconds(ttl_seconds);
  return LeaseInfo{id, ttl_seconds, ttl_seconds, {}};
}

absl::StatusOr<int64_t> KvStore::RevokeLease(int64_t id) {
  // The lease goes, and its keys with it, in one revision (none if it had no keys).
  return WriteLocked([&](WriteTxn& txn) {
    auto it = leases_.find(id);
    if (it == leases_.end()) return absl::NotFoundError("etcdserver: requested lease not found");
    std::set<std::string> keys = std::move(it->second.keys);
    leases_.erase(it);
    for (const std::string& key : keys) txn.DeleteRange(KeyRange::Single(key));
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> KvStore::RenewLease(int64_t id) {
  std::unique_lock lock(mutex_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return absl::NotFoundError("etcdserver: requested lease not found");
  it->second.expiry = options_.clock() + std::chrono::seconds(it->second.granted_ttl);
  return it->second.granted_ttl;
}

std::optional<LeaseInfo> KvStore::GetLease(int64_t id) const {
  std::shared_lock lock(mutex_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  LeaseInfo info{id, it->second.granted_ttl, RemainingSeconds(it->second.expiry, options_.clock()), {}};
  info.keys.assign(it->second.keys.begin(), it->second.keys.end());
  return info;
}

std::vector<int64_t> KvStore::LeaseIds() const {
  std::shared_lock lock(mutex_);
  std::vector<int64_t> ids;
  for (const auto& [id, lease] : leases_) ids.push_back(id);
  return ids;
}

size_t KvStore::ExpireLeases() {
  std::vector<int64_t> expired;
  {
    std::shared_lock lock(mutex_);
    const auto now = options_.clock();
    for (const auto& [id, lease] : leases_) {
      if (lease.expiry <= now) expired.push_back(id);
    }
  }
  size_t revoked = 0;
  for (int64_t id : expired) revoked += RevokeLease(id).ok() ? 1 : 0;  // may have been renewed or revoked meanwhile
  return revoked;
}

}  // namespace agent::store
