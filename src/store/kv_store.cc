#include "store/kv_store.h"

#include <algorithm>

namespace agent::store {

namespace {

// What a revision holds in memory beyond its fixed-size parts: keys and values, previous ones too.
size_t HistoryBytes(const Revision& revision) {
  size_t bytes = 0;
  for (const Event& e : revision.events) {
    bytes += e.kv.key.size() + e.kv.value.size() + sizeof(Event);
    if (e.prev_kv) bytes += e.prev_kv->key.size() + e.prev_kv->value.size();
  }
  return bytes;
}

}  // namespace

KvStore::KvStore(StoreOptions options)
    : options_(std::move(options)),
      next_lease_id_(0),
      revision_(options_.initial_revision),
      compacted_(options_.initial_revision > 1 ? options_.initial_revision : 0) {
  // Lease IDs: positive, distinct across restarts (time-based, like etcd's), sequential after.
  next_lease_id_ = (std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() &
                    0x3fffffffffffffLL) |
                   (int64_t{1} << 60);
}

KvStore::~KvStore() = default;

KeyValue KvStore::ToKeyValue(const std::string& key, const Record& r) {
  return KeyValue{key, r.value, r.create_revision, r.mod_revision, r.version, r.lease};
}

int64_t KvStore::current_revision() const {
  std::shared_lock lock(mutex_);
  return revision_;
}

KvStore::Sizes KvStore::sizes() const {
  std::shared_lock lock(mutex_);
  return Sizes{keys_.size(), history_.size(), history_events_, history_bytes_};
}

int64_t KvStore::compacted_revision() const {
  std::shared_lock lock(mutex_);
  return compacted_;
}

int64_t KvStore::Commit(const std::vector<Mutation>& mutations) {
  auto result = WriteLocked([&](WriteTxn& txn) {
    txn.ReserveEvents(mutations.size());  // each mutation makes at most one event
    for (const Mutation& m : mutations) {
      if (m.kind == Mutation::Kind::kPut) {
        (void)txn.Put(m.key, m.value);  // no lease: cannot fail
      } else {
        txn.DeleteRange(KeyRange::Single(m.key));
      }
    }
    return absl::OkStatus();
  });
  return *result;
}

absl::StatusOr<int64_t> KvStore::Transact(const std::function<absl::Status(WriteTxn&)>& body) {
  return WriteLocked(body);
}

absl::StatusOr<int64_t> KvStore::WriteLocked(const std::function<absl::Status(WriteTxn&)>& body) {
  std::shared_ptr<const Revision> committed;
  {
    std::unique_lock lock(mutex_);
    auto entry = std::make_shared<Revision>();
    entry->revision = revision_ + 1;
    WriteTxn txn(*this, *entry);
    absl::Status status = body(txn);
    if (!status.ok()) {
      Rollback(*entry);
      return status;
    }
    if (entry->events.empty()) return revision_;
    if (options_.before_revision) options_.before_revision(entry->revision);
    revision_ = entry->revision;
    history_events_ += entry->events.size();
    history_bytes_ += HistoryBytes(*entry);
    history_.push_back(entry);
    TrimHistoryLocked();
    committed = std::move(entry);
  }
  Notify(committed);
  return committed->revision;
}

void KvStore::Rollback(const Revision& entry) {
  for (auto e = entry.events.rbegin(); e != entry.events.rend(); ++e) {
    const std::string& key = e->kv.key;
    auto it = keys_.find(key);
    int64_t current_lease = it == keys_.end() ? 0 : it->second.lease;
    if (e->prev_kv) {
      const KeyValue& p = *e->prev_kv;
      keys_.insert_or_assign(key, Record{p.value, p.create_revision, p.mod_revision, p.version, p.lease});
      AttachLease(key, current_lease, p.lease);
    } else {
      AttachLease(key, current_lease, 0);
      keys_.erase(key);
    }
  }
}

void KvStore::Notify(const std::shared_ptr<const Revision>& committed) {
  std::lock_guard watch_lock(watch_mutex_);
  notifying_ = std::this_thread::get_id();
  const uint64_t subscribed_before = next_watch_id_;  // those subscribing meanwhile hear the next revision
  for (auto& [id, watch] : watches_) {
    if (watch.unsubscribed || id >= subscribed_before) continue;
    const KeyRange& range = watch.range;
    bool touched = std::any_of(committed->events.begin(), committed->events.end(),
                               [&range](const Event& e) { return range.Contains(e.kv.key); });
    if (!touched) continue;
    watch.state->Touched(committed->revision);
    watch.on_change(committed->revision);
  }
  notifying_ = std::thread::id();
  for (uint64_t id : unsubscribed_while_notifying_) watches_.erase(id);
  unsubscribed_while_notifying_.clear();
}

void KvStore::TrimHistoryLocked() {
  while (history_.size() > 1 &&
         (history_.size() > options_.max_history_revisions || history_events_ > options_.max_history_events ||
          history_bytes_ > options_.max_history_bytes)) {
    compacted_ = history_.front()->revision + 1;
    compacted_ever_ = true;
    history_events_ -= history_.front()->events.size();
    history_bytes_ -= HistoryBytes(*history_.front());
    history_.pop_front();
  }
}

absl::Status KvStore::Compact(int64_t revision) {
  std::unique_lock lock(mutex_);
  // etcd's compactMainRev starts below every revision: the first compaction of a fresh store may
  // name any revision up to the current one, 0 included (revisions before a seeded start count as
  // never compacted until then).
  if (compacted_ever_ && revision <= compacted_) {
    return absl::OutOfRangeError("etcdserver: mvcc: required revision has been compacted");
  }
  if (revision > revision_) return absl::OutOfRangeError("etcdserver: mvcc: required revision is a future revision");
  while (!history_.empty() && history_.front()->revision < revision) {
    history_events_ -= history_.front()->events.size();
    history_bytes_ -= HistoryBytes(*history_.front());
    history_.pop_front();
  }
  compacted_ = std::max(compacted_, revision);
  compacted_ever_ = true;
  return absl::OkStatus();
}

absl::StatusOr<RangeResult> KvStore::Range(const RangeQuery& query) const {
  std::shared_lock lock(mutex_);
  const int64_t rev = query.revision > 0 ? query.revision : revision_;
  if (rev > revision_) return absl::OutOfRangeError("etcdserver: mvcc: required revision is a future revision");
  if (rev < compacted_) return absl::OutOfRangeError("etcdserver: mvcc: required revision has been compacted");

  RangeResult result;
  result.revision = revision_;
  const KeyRange& range = query.range;
  auto emit = [&](KeyValue kv) {
    ++result.count;
    if (query.count_only) return;
    if (query.limit > 0 && static_cast<int64_t>(result.kvs.size()) >= query.limit) {
      result.more = true;
      return;
    }
    result.kvs.push_back(std::move(kv));
  };

  auto first = range.IsSingle() ? keys_.find(range.key) : keys_.lower_bound(range.key);
  if (rev == revision_) {
    for (auto it = first; it != keys_.end() && range.Contains(it->first); ++it) emit(ToKeyValue(it->first, it->second));
    return result;
  }

  // A past revision: start from the current state of the range and undo later revisions.
  std::map<std::string, KeyValue, std::less<>> state;
  for (auto it = first; it != keys_.end() && range.Contains(it->first); ++it) {
    state.emplace(it->first, ToKeyValue(it->first, it->second));
  }
  for (auto h = history_.rbegin(); h != history_.rend() && (*h)->revision > rev; ++h) {
    for (auto e = (*h)->events.rbegin(); e != (*h)->events.rend(); ++e) {
      if (!range.Contains(e->kv.key)) continue;
      if (e->prev_kv) {
        state.insert_or_assign(e->kv.key, *e->prev_kv);
      } else {
        state.erase(e->kv.key);
      }
    }
  }
  for (auto& [key, kv] : state) emit(std::move(kv));
  return result;
}

WatchRead KvStore::ReadEvents(const KeyRange& range, int64_t from_revision, size_t max_revisions) const {
  std::shared_lock lock(mutex_);
  WatchRead read;
  if (from_revision < compacted_) {
    read.compact_revision = compacted_;
    return read;
  }
  read.next_revision = std::max(from_revision, int64_t{1});
  if (history_.empty() || from_revision > revision_) return read;
  const int64_t oldest = history_.front()->revision;
  size_t index = from_revision <= oldest ? 0 : static_cast<size_t>(from_revision - oldest);
  for (; index < history_.size() && read.revisions.size() < max_revisions; ++index) {
    const auto& entry = history_[index];
    read.next_revision = entry->revision + 1;
    bool touched = std::any_of(entry->events.begin(), entry->events.end(),
                               [&](const Event& e) { return range.Contains(e.kv.key); });
    if (touched) read.revisions.push_back(entry);
  }
  return read;
}

std::unique_ptr<Subscription> KvStore::Subscribe(KeyRange range, std::function<void(int64_t)> on_change) {
  // On the notifying thread the subscription lock is already held (by Notify, below us on the
  // stack): a map insertion does not disturb its iteration.
  std::unique_lock<std::mutex> lock;
  if (notifying_.load() != std::this_thread::get_id()) lock = std::unique_lock(watch_mutex_);
  // Read under the subscription lock: a revision committed after this read is notified to us.
  auto state = std::make_shared<SubscriptionState>(current_revision());
  uint64_t id = next_watch_id_++;
  watches_.emplace(id, Watch{std::move(range), std::move(on_change), state});
  return std::unique_ptr<Subscription>(new Subscription(this, id, std::move(state)));
}

void KvStore::Unsubscribe(uint64_t id) {
  if (notifying_.load() == std::this_thread::get_id()) {
    // From inside a notification (Notify holds the lock and iterates the map): no further call
    // reaches it, and it leaves the map when the notification ends.
    auto it = watches_.find(id);
    if (it != watches_.end() && !it->second.unsubscribed) {
      it->second.unsubscribed = true;
      unsubscribed_while_notifying_.push_back(id);
    }
    return;
  }
  std::lock_guard lock(watch_mutex_);
  watches_.erase(id);
}

}  // namespace agent::store

namespace agent::store {

size_t KvStore::subscription_count() const {
  std::lock_guard lock(watch_mutex_);
  return watches_.size();
}

}  // namespace agent::store
