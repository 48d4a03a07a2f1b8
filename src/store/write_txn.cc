#include "store/kv_store.h"

namespace agent::store {

int64_t WriteTxn::write_revision() const { return entry_.revision; }

int64_t WriteTxn::read_revision() const { return entry_.revision - 1; }

std::optional<KeyValue> WriteTxn::Get(const std::string& key) const {
  auto it = store_.keys_.find(key);
  if (it == store_.keys_.end()) return std::nullopt;
  return KvStore::ToKeyValue(it->first, it->second);
}

bool WriteTxn::LeaseExists(int64_t lease) const { return store_.leases_.count(lease) > 0; }

RangeResult WriteTxn::Range(const RangeQuery& query) const {
  RangeResult result;
  result.revision = store_.revision_;
  const KeyRange& range = query.range;
  auto it = range.IsSingle() ? store_.keys_.find(range.key) : store_.keys_.lower_bound(range.key);
  for (; it != store_.keys_.end() && range.Contains(it->first); ++it) {
    ++result.count;
    if (query.count_only) continue;
    if (query.limit > 0 && static_cast<int64_t>(result.kvs.size()) >= query.limit) {
      result.more = true;
      continue;
    }
    result.kvs.push_back(KvStore::ToKeyValue(it->first, it->second));
  }
  return result;
}

absl::StatusOr<std::optional<KeyValue>> WriteTxn::Put(const std::string& key, SharedValue value, int64_t lease,
                                                      bool ignore_value, bool ignore_lease) {
  if (lease != 0 && !LeaseExists(lease)) return absl::NotFoundError("etcdserver: requested lease not found");
  auto it = store_.keys_.find(key);
  if (it == store_.keys_.end() && (ignore_value || ignore_lease)) {
    return absl::InvalidArgumentError("etcdserver: key not found");
  }
  const int64_t rev = entry_.revision;
  Event event;
  event.type = Event::Type::kPut;
  if (it == store_.keys_.end()) {
    it = store_.keys_.emplace(key, KvStore::Record{std::move(value), rev, rev, 1, lease}).first;
    store_.AttachLease(key, 0, lease);
  } else {
    event.prev_kv = KvStore::ToKeyValue(it->first, it->second);
    if (!ignore_value) it->second.value = std::move(value);
    if (!ignore_lease) {
      store_.AttachLease(key, it->second.lease, lease);
      it->second.lease = lease;
    }
    it->second.mod_revision = rev;
    it->second.version += 1;
  }
  event.kv = KvStore::ToKeyValue(it->first, it->second);
  std::optional<KeyValue> prev = event.prev_kv;
  entry_.events.push_back(std::move(event));
  return prev;
}

std::vector<KeyValue> WriteTxn::DeleteRange(const KeyRange& range) {
  std::vector<KeyValue> deleted;
  auto it = range.IsSingle() ? store_.keys_.find(range.key) : store_.keys_.lower_bound(range.key);
  while (it != store_.keys_.end() && range.Contains(it->first)) {
    Event event;
    event.type = Event::Type::kDelete;
    event.kv.key = it->first;
    event.kv.mod_revision = entry_.revision;
    event.prev_kv = KvStore::ToKeyValue(it->first, it->second);
    deleted.push_back(*event.prev_kv);
    store_.AttachLease(it->first, it->second.lease, 0);
    entry_.events.push_back(std::move(event));
    it = store_.keys_.erase(it);
  }
  return deleted;
}

}  // namespace agent::store
