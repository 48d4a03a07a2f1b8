// The one place that joins xDS and the store: each new xDS snapshot is translated, diffed against
// what the agent last wrote, and applied as ONE store transaction (one revision), so APISIX sees a
// route and the upstream it points at appear together (DESIGN.md §4).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <set>
#include <string>
#include <vector>

#include "apisix/key_layout.h"
#include "store/kv_store.h"
#include "translate/translator.h"
#include "xds/resource_snapshot.h"

namespace agent::reconcile {

struct ApplyStats {
  size_t applies = 0;  // updates applied so far (cumulative)
  int64_t revision = 0;  // the store revision after applying
  size_t puts = 0;
  size_t deletes = 0;
  size_t routes = 0;
  size_t upstreams = 0;
  size_t stream_routes = 0;
  size_t skipped = 0;
};

class Reconciler {
 public:
  // `front_table`: called (outside every lock) with the mesh front's table whenever an update
  // changes it (TranslateOptions::mesh_front); the caller writes it where nginx reads it.
  Reconciler(store::KvStore& store, apisix::KeyLayout layout, translate::TranslateOptions options = {},
             std::function<void(const std::string&)> front_table = nullptr);

  // Writes the directory placeholders APISIX needs before any configuration (one revision).
  void Initialize();

  // Told of every commit of translated objects, in commit order, with the store revision and the
  // puts and deletes it made (the values are the store's bytes): the etcd sink follows the agent's
  // store with it. Called with the reconciler's lock held: it must only record, never call back.
  // Set before the first Apply.
  using CommitObserver = std::function<void(int64_t revision, const std::vector<store::Mutation>& mutations)>;
  void SetCommitObserver(CommitObserver observer) { observer_ = std::move(observer); }

  // `changes`, when the source knows them, lets an endpoint-only update touch only the upstreams
  // whose nodes changed (the translator's fast path); the result is the same as a full apply.
  ApplyStats Apply(const xds::ResourceSnapshot& snapshot, const xds::SnapshotChanges* changes = nullptr);

  // Whether `key` holds an object translated from xDS (clients may not write those). Called by
  // the etcd API's write guard with the store's write lock held: it takes only `owned_mutex_`,
  // which is never held across a store call (lock order: store → owned_mutex_; Apply holds
  // `mutex_` across its commit, so Owns must not touch it).
  bool Owns(const std::string& key) const;

  // /config_dump: which xDS resource each key served was translated from where its value does not
  // say it — a route's or upstream's `desc` does, unless APISIX's length limit cut it; a stream
  // route's schema has none — and what the current configuration leaves out (one line per finding).
  std::map<std::string, std::string> Sources() const;
  std::vector<std::string> Skipped() const;
  ApplyStats last() const;

 private:
  // Logs what was newly left out; returns the lines of `skipped`.
  std::set<std::string> Report(const translate::Diagnostics& skipped);
  // Puts and deletes against what the agent last wrote, as one commit; updates `applied_`.
  void Commit(std::map<std::string, std::string> puts, const std::set<std::string>& deletes, ApplyStats& stats);

  store::KvStore& store_;
  const apisix::KeyLayout layout_;
  translate::Translator translator_;  // keeps per-resource results between updates
  std::function<void(const std::string&)> front_table_sink_;
  CommitObserver observer_;
  std::string front_table_;  // the last table handed to the sink (under apply_mutex_)
  std::mutex apply_mutex_;
  mutable std::mutex mutex_;
  // key → the value the agent owns in the store: the store's own bytes (shared, not a copy).
  std::map<std::string, store::SharedValue> applied_;
  mutable std::shared_mutex owned_mutex_;
  std::set<std::string> owned_;  // the keys of applied_, plus those being committed
  std::set<std::string> reported_;             // skipped features already logged
  std::map<std::string, std::string> sources_;  // key → the xDS resource it came from (guarded by mutex_)
  ApplyStats last_;                             // guarded by mutex_
  size_t applies_ = 0;
};

}  // namespace agent::reconcile
