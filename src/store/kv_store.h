// An in-memory MVCC key space with etcd's semantics (DESIGN.md §4–5).
//
// Every Commit() is one atomic revision. A bounded history of committed revisions (each event
// keeps the previous key-value) serves watch replay and ranges at past revisions. Watchers are not
// fed by the writer: a subscription only gets a cheap "something changed" call, and the watcher
// pulls events from the history at its own pace, so a slow reader never blocks the writer; one that
// falls behind the history window is told the compaction revision, as etcd does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>
#include <deque>

#include "absl/status/statusor.h"
#include "store/key_range.h"

namespace agent::store {

struct KeyValue {
  std::string key;
  std::string value;
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

// All events of one revision, in the order the mutations were given.
struct Revision {
  int64_t revision = 0;
  std::vector<Event> events;
};

struct Mutation {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;

  static Mutation Put(std::string key, std::string value) { return {Kind::kPut, std::move(key), std::move(value)}; }
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

struct StoreOptions {
  int64_t initial_revision = 1;          // etcd's empty store is at revision 1
  size_t max_history_revisions = 10000;  // watch replay window
  size_t max_history_events = 200000;
};

class Subscription;

class KvStore {
 public:
  explicit KvStore(StoreOptions options = {});
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // Applies all mutations as one revision. Deleting an absent key is a no-op; if nothing changes,
  // no revision is created. Returns the store's revision after the commit.
  int64_t Commit(const std::vector<Mutation>& mutations);

  // Errors as etcd's: OutOfRange for a compacted or future revision.
  absl::StatusOr<RangeResult> Range(const RangeQuery& query) const;

  // Revisions >= from_revision (in revision order) with events inside `range`; at most max_revisions.
  WatchRead ReadEvents(const KeyRange& range, int64_t from_revision, size_t max_revisions) const;

  int64_t current_revision() const;
  int64_t compacted_revision() const;  // the last revision dropped from history (0 = none)

  // `on_change` runs on the committing thread after each commit touching `range`, without store
  // locks held; it must be quick and must not call Subscribe or destroy a Subscription.
  // Destroying the returned object guarantees no further calls.
  std::unique_ptr<Subscription> Subscribe(KeyRange range, std::function<void(int64_t revision)> on_change);

 private:
  friend class Subscription;
  struct Record {
    std::string value;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
  };
  struct Watch {
    KeyRange range;
    std::function<void(int64_t)> on_change;
  };

  void Unsubscribe(uint64_t id);
  void TrimHistoryLocked();
  static KeyValue ToKeyValue(const std::string& key, const Record& r);

  const StoreOptions options_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Record, std::less<>> keys_;
  std::deque<std::shared_ptr<const Revision>> history_;  // contiguous revisions
  size_t history_events_ = 0;
  int64_t revision_;
  int64_t compacted_ = 0;

  std::mutex watch_mutex_;
  std::map<uint64_t, Watch> watches_;
  uint64_t next_watch_id_ = 1;
};

class Subscription {
 public:
  ~Subscription() { store_->Unsubscribe(id_); }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  friend class KvStore;
  Subscription(KvStore* store, uint64_t id) : store_(store), id_(id) {}
  KvStore* store_;
  uint64_t id_;
};

}  // namespace agent::store
