// An in-memory MVCC key space with etcd's semantics (DESIGN.md §4–5).
//
// Every write — a Commit(), a Transact() body, a lease revocation — is one atomic revision. A
// bounded history of committed revisions (each event keeps the previous key-value) serves watch
// replay and ranges at past revisions. Watchers are not fed by the writer: a subscription only gets
// a cheap "something changed" call, and the watcher pulls events from the history at its own pace,
// so a slow reader never blocks the writer; one that falls behind the history window is told the
// compaction revision, as etcd does.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <thread>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/key_range.h"
#include "store/shared_value.h"

namespace agent::store {

struct KeyValue {
  std::string key;
  SharedValue value;  // shared with the store's record and history: copying a KeyValue copies no bytes
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;

  bool operator==(const KeyValue&) const = default;
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;                     // for a delete: key and mod_revision only
  std::optional<KeyValue> prev_kv;  // the key-value before this event, if the key existed
};

// All events of one revision, in the order they were made.
struct Revision {
  int64_t revision = 0;
  std::vector<Event> events;
};

struct Mutation {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  SharedValue value;  // the store keeps these very bytes: the writer may keep sharing them

  static Mutation Put(std::string key, SharedValue value) { return {Kind::kPut, std::move(key), std::move(value)}; }
  static Mutation Delete(std::string key) { return {Kind::kDelete, std::move(key), {}}; }
};

struct RangeQuery {
  KeyRange range;
  int64_t revision = 0;  // 0 = current
  int64_t limit = 0;     // 0 = no limit
  bool count_only = false;
};

struct RangeResult {
  int64_t revision = 0;  // the store's current revision (etcd's header.revision)
  std::vector<KeyValue> kvs;  // sorted by key, bytewise
  int64_t count = 0;          // matching keys before the limit
  bool more = false;
};

// What a watcher reads next: either the revisions it has not seen (filtered to its range), or the
// news that they are gone from history.
struct WatchRead {
  int64_t compact_revision = 0;  // > 0: history no longer holds from_revision; restart from here
  std::vector<std::shared_ptr<const Revision>> revisions;  // each has >= 1 event inside the range
  int64_t next_revision = 0;  // where the next read starts
};

struct LeaseInfo {
  int64_t id = 0;
  int64_t granted_ttl = 0;    // seconds
  int64_t remaining_ttl = 0;  // whole seconds, rounded down
  std::vector<std::string> keys;
};

struct StoreOptions {
  // etcd's empty store is at revision 1. A larger value says the revisions before it belong to an
  // earlier life of the key space (an agent restart): they are reported as compacted.
  int64_t initial_revision = 1;
  size_t max_history_revisions = 10000;  // watch replay window
  size_t max_history_events = 200000;
  // And by bytes (keys and values, previous values included): a client writing large values must
  // not pin memory (etcd keeps history on disk under a quota). A watcher that falls behind the
  // window gets etcd's compaction answer. Always at least the newest revision is kept.
  size_t max_history_bytes = 32 * 1024 * 1024;
  // Called under the write lock before revision `revision` is used, when set: where revisions are
  // made durable ahead of use (RevisionReservation), so none is reused after a crash.
  std::function<void(int64_t revision)> before_revision;
  std::function<std::chrono::steady_clock::time_point()> clock = [] { return std::chrono::steady_clock::now(); };
};

class KvStore;
class Subscription;
class SubscriptionState;

// The write side of one transaction (see KvStore::Transact). Reads see the transaction's own
// earlier writes, as in etcd.
class WriteTxn {
 public:
  // The revision this transaction's writes get (current + 1).
  int64_t write_revision() const;
  // The store's revision before this transaction.
  int64_t read_revision() const;

  RangeResult Range(const RangeQuery& query) const;  // query.revision is ignored: current state
  std::optional<KeyValue> Get(const std::string& key) const;
  bool LeaseExists(int64_t lease) const;

  // Errors (nothing written): NotFound for an unknown lease, InvalidArgument for ignore_value or
  // ignore_lease on a missing key. Returns the previous key-value, if any.
  absl::StatusOr<std::optional<KeyValue>> Put(const std::string& key, SharedValue value, int64_t lease = 0,
                                              bool ignore_value = false, bool ignore_lease = false);
  // Returns the deleted key-values.
  std::vector<KeyValue> DeleteRange(const KeyRange& range);

  // Room for this many events, when the writer knows: a mesh's first sync is one revision of
  // tens of thousands of events, which grown by doubling would hold up to twice their size (and,
  // while the last doubling copies them, three times).
  void ReserveEvents(size_t events) { entry_.events.reserve(events); }

 private:
  friend class KvStore;
  WriteTxn(KvStore& store, Revision& entry) : store_(store), entry_(entry) {}
  KvStore& store_;
  Revision& entry_;
};

class KvStore {
 public:
  explicit KvStore(StoreOptions options = {});
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // Applies all mutations as one revision. Deleting an absent key is a no-op; if nothing changes,
  // no revision is created. Returns the store's revision after the commit.
  int64_t Commit(const std::vector<Mutation>& mutations);

  // Runs `body` with exclusive access. Its writes form one revision; if it returns an error they
  // are rolled back and no revision is created. Returns the store's revision afterwards.
  absl::StatusOr<int64_t> Transact(const std::function<absl::Status(WriteTxn&)>& body);

  // Errors as etcd's: OutOfRange for a compacted or future revision.
  absl::StatusOr<RangeResult> Range(const RangeQuery& query) const;

  // Revisions >= from_revision (in revision order) with events inside `range`; at most max_revisions.
  WatchRead ReadEvents(const KeyRange& range, int64_t from_revision, size_t max_revisions) const;

  // Drops history before `revision` (etcd's Compact: `revision` itself stays readable and
  // watchable). OutOfRange if it is in the future or already compacted.
  absl::Status Compact(int64_t revision);

  int64_t current_revision() const;
  // etcd's compact revision: the oldest revision still readable and watchable (0 = none).
  int64_t compacted_revision() const;
  // What the store holds: live keys, and the watch history kept (revisions, events, bytes).
  struct Sizes {
    size_t keys = 0;
    size_t history_revisions = 0;
    size_t history_events = 0;
    size_t history_bytes = 0;
  };
  Sizes sizes() const;

  // Leases (etcd's semantics; expiry deletes the attached keys in one revision).
  absl::StatusOr<LeaseInfo> GrantLease(int64_t id, int64_t ttl_seconds);  // id 0 = choose one
  absl::StatusOr<int64_t> RevokeLease(int64_t id);                        // the revision after
  absl::StatusOr<int64_t> RenewLease(int64_t id);                         // the granted TTL
  std::optional<LeaseInfo> GetLease(int64_t id) const;
  std::vector<int64_t> LeaseIds() const;
  // Revokes every lease whose TTL has run out; returns how many.
  size_t ExpireLeases();

  // `on_change` runs on the committing thread after each commit touching `range`, without the
  // key-space lock held; it must be quick. It may subscribe and destroy subscriptions, its own
  // included (a watch stream retires a compacted watcher from inside the call that wakes it): on
  // the notifying thread the store does that without taking its subscription lock again.
  // Destroying the returned object guarantees no further calls.
  std::unique_ptr<Subscription> Subscribe(KeyRange range, std::function<void(int64_t revision)> on_change);
  size_t subscription_count() const;

 private:
  friend class Subscription;
  friend class WriteTxn;
  struct Record {
    SharedValue value;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
  };
  struct Lease {
    int64_t granted_ttl;
    std::chrono::steady_clock::time_point expiry;
    std::set<std::string> keys;
  };
  struct Watch {
    KeyRange range;
    std::function<void(int64_t)> on_change;
    std::shared_ptr<SubscriptionState> state;
    bool unsubscribed = false;  // from inside the notification in progress: erased when it ends
  };

  void Unsubscribe(uint64_t id);
  // Takes the lock, runs body, publishes the revision if anything changed.
  absl::StatusOr<int64_t> WriteLocked(const std::function<absl::Status(WriteTxn&)>& body);
  void Notify(const std::shared_ptr<const Revision>& committed);
  void Rollback(const Revision& entry);
  void TrimHistoryLocked();
  void AttachLease(const std::string& key, int64_t old_lease, int64_t new_lease);
  static KeyValue ToKeyValue(const std::string& key, const Record& r);

  const StoreOptions options_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Record, std::less<>> keys_;
  std::map<int64_t, Lease> leases_;
  int64_t next_lease_id_;
  std::deque<std::shared_ptr<const Revision>> history_;  // contiguous revisions
  size_t history_events_ = 0;
  size_t history_bytes_ = 0;
  int64_t revision_;
  int64_t compacted_ = 0;
  bool compacted_ever_ = false;  // by a client or the history window

  mutable std::mutex watch_mutex_;
  std::map<uint64_t, Watch> watches_;
  uint64_t next_watch_id_ = 1;
  std::atomic<std::thread::id> notifying_{};  // the thread inside Notify (holding watch_mutex_)
  std::vector<uint64_t> unsubscribed_while_notifying_;
};

// Which of a subscription's notified revisions its reader has not read yet, to tell a watcher
// that lost events to compaction from one whose range was simply quiet. Thread-safe.
class SubscriptionState {
 public:
  explicit SubscriptionState(int64_t subscribed_at) : subscribed_at_(subscribed_at) {}
  int64_t subscribed_at() const { return subscribed_at_; }
  // The store: revision `revision` touched the range.
  void Touched(int64_t revision) {
    std::lock_guard lock(mutex_);
    if (first_unread_ == 0 || revision < first_unread_) first_unread_ = revision;
    last_touched_ = std::max(last_touched_, revision);
  }
  // The reader: every revision before `next` is read. The first unread one after it is not
  // known exactly when later ones were notified meanwhile: `next` stands for it (conservative).
  void ReadUpTo(int64_t next) {
    std::lock_guard lock(mutex_);
    if (first_unread_ != 0 && first_unread_ < next) first_unread_ = last_touched_ >= next ? next : 0;
  }
  // No unread touch before `revision`.
  bool NothingUnreadBefore(int64_t revision) const {
    std::lock_guard lock(mutex_);
    return first_unread_ == 0 || first_unread_ >= revision;
  }

 private:
  const int64_t subscribed_at_;
  mutable std::mutex mutex_;
  int64_t first_unread_ = 0;  // 0: none
  int64_t last_touched_ = 0;
};

class Subscription {
 public:
  ~Subscription() { store_->Unsubscribe(id_); }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // For its reader (a watcher at `position`, history now starting at `oldest`): every revision
  // before `next` has been read.
  void ReadUpTo(int64_t next) { state_->ReadUpTo(next); }
  // True when a watcher at `position` lost nothing to history that now starts at `oldest`: it
  // subscribed before `position` and no revision of its range from there up to `oldest` is
  // unread. etcd keeps such an in-sync watcher alive; only one that missed events is canceled.
  bool LostNothingBefore(int64_t position, int64_t oldest) const {
    return position > state_->subscribed_at() && state_->NothingUnreadBefore(oldest);
  }

 private:
  friend class KvStore;
  Subscription(KvStore* store, uint64_t id, std::shared_ptr<SubscriptionState> state)
      : store_(store), id_(id), state_(std::move(state)) {}
  KvStore* store_;
  uint64_t id_;
  std::shared_ptr<SubscriptionState> state_;
};

}  // namespace agent::store
