#include "reconcile/reconciler.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "apisix/resources.h"
#include "common/logging.h"
#include "translate/translator.h"

namespace agent::reconcile {

Reconciler::Reconciler(store::KvStore& store, apisix::KeyLayout layout, translate::TranslateOptions options,
                       std::function<void(const std::string&)> front_table)
    : store_(store), layout_(std::move(layout)), translator_(std::move(options)),
      front_table_sink_(std::move(front_table)) {}

void Reconciler::Initialize() {
  std::vector<store::Mutation> mutations;
  for (std::string& key : layout_.DirectoryPlaceholderKeys()) {
    mutations.push_back(store::Mutation::Put(std::move(key), apisix::kDirectoryPlaceholderValue));
  }
  store_.Commit(mutations);
}

std::set<std::string> Reconciler::Report(const translate::Diagnostics& skipped) {
  // Report what was left out once, not again on every later update that still leaves it out.
  std::set<std::string> lines;
  for (const translate::Skipped& s : skipped) {
    std::string line = s.ToString();
    if (reported_.count(line) == 0) {
      log::WarnWith({{"event", "skipped"}, {"resource", s.resource}, {"field", s.field}, {"reason", s.reason}},
                    "translation skipped %s", line);
    }
    lines.insert(std::move(line));
  }
  return lines;
}

void Reconciler::Commit(std::map<std::string, std::string> puts, const std::set<std::string>& deletes,
                        ApplyStats& stats) {
  // One commit: a watcher receives routes and their upstreams in one message, in any key order.
  // Values move from `puts` into the mutations, whose bytes the store keeps and `applied_` shares:
  // at mesh scale each copy would be tens of megabytes.
  std::vector<store::Mutation> mutations;
  for (auto& [key, value] : puts) {
    auto it = applied_.find(key);
    if (it == applied_.end() || it->second != value) mutations.push_back(store::Mutation::Put(key, std::move(value)));
  }
  for (const std::string& key : deletes) {
    if (applied_.count(key) > 0) mutations.push_back(store::Mutation::Delete(key));
  }
  for (const auto& m : mutations) (m.kind == store::Mutation::Kind::kPut ? stats.puts : stats.deletes) += 1;
  {
    // A key is the agent's from just before its put commits until just after its delete commits.
    std::unique_lock owned_lock(owned_mutex_);
    for (const auto& m : mutations) {
      if (m.kind == store::Mutation::Kind::kPut) owned_.insert(m.key);
    }
  }
  stats.revision = mutations.empty() ? store_.current_revision() : store_.Commit(mutations);
  if (observer_ && !mutations.empty()) observer_(stats.revision, mutations);
  {
    std::unique_lock owned_lock(owned_mutex_);
    for (const auto& m : mutations) {
      if (m.kind == store::Mutation::Kind::kDelete) owned_.erase(m.key);
    }
  }
  for (auto& m : mutations) {
    if (m.kind == store::Mutation::Kind::kPut) {
      applied_.insert_or_assign(std::move(m.key), std::move(m.value));
    } else {
      applied_.erase(m.key);
    }
  }
  stats.applies = ++applies_;
  last_ = stats;
}

ApplyStats Reconciler::Apply(const xds::ResourceSnapshot& snapshot, const xds::SnapshotChanges* changes) {
  std::lock_guard apply_lock(apply_mutex_);  // one update at a time: the translator's cache is not shared
  if (changes != nullptr && changes->EndpointsOnly()) {
    translate::Diagnostics skipped;
    if (auto upstreams = translator_.TranslateEndpoints(snapshot, changes->cluster_load_assignments, skipped)) {
      std::set<std::string> lines = Report(skipped);
      std::map<std::string, std::string> puts;
      for (const apisix::Upstream& u : *upstreams) puts.emplace(layout_.UpstreamKey(u.id), EncodeJson(u));
      std::lock_guard lock(mutex_);
      ApplyStats stats = last_;
      stats.puts = stats.deletes = 0;
      reported_.insert(lines.begin(), lines.end());
      Commit(std::move(puts), {}, stats);
      return stats;
    }
  }
  translate::Translation translation = translator_.Translate(snapshot);
  if (layout_.line() == apisix::VersionLine::k2x) translate::DowngradePluginsTo2x(translation);
  std::set<std::string> reported = Report(translation.skipped);

  ApplyStats stats;
  stats.routes = translation.routes.size();
  stats.upstreams = translation.upstreams.size();
  stats.stream_routes = translation.stream_routes.size();
  stats.skipped = translation.skipped.size();

  // Each object is released once encoded: at mesh scale the objects and their encodings are tens
  // of megabytes each, and only one of the two needs to be held at a time.
  // Where each object came from is kept only where its value cannot say it (Sources()).
  std::map<std::string, std::string> desired;
  std::map<std::string, std::string> sources;
  for (apisix::Upstream& u : translation.upstreams) {
    desired.emplace(layout_.UpstreamKey(u.id), EncodeJson(u));
    if (u.desc.size() > apisix::kMaxDescLength) sources.emplace(layout_.UpstreamKey(u.id), std::move(u.desc));
    u = apisix::Upstream{};
  }
  for (apisix::Route& r : translation.routes) {
    desired.emplace(layout_.RouteKey(r.id), EncodeJson(r));
    if (r.desc.size() > apisix::kMaxDescLength) sources.emplace(layout_.RouteKey(r.id), std::move(r.desc));
    r = apisix::Route{};
  }
  for (apisix::StreamRoute& r : translation.stream_routes) {
    desired.emplace(layout_.StreamRouteKey(r.id), EncodeJson(r));
    sources.emplace(layout_.StreamRouteKey(r.id), std::move(r.source));
    r = apisix::StreamRoute{};
  }
  // The emptied objects' arrays too (~6 MB of the N=10,000 peak, measured): the commit's allocations reuse them.
  translation.upstreams = std::vector<apisix::Upstream>();  // `= {}` would keep the capacity
  translation.routes = std::vector<apisix::Route>();
  translation.stream_routes = std::vector<apisix::StreamRoute>();

  // The front's table and the stream routes it sends connections to: the table names only
  // destinations whose routes exist once this commit is served (new ones are written first;
  // removed ones are no longer in the table, and a connection the front still sends there is
  // closed by APISIX, as Envoy closes one for a listener being removed).
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> deletes;
    for (const auto& [key, value] : applied_) {
      if (desired.count(key) == 0) deletes.insert(key);
    }
    Commit(std::move(desired), deletes, stats);
    reported_ = std::move(reported);
    sources_ = std::move(sources);
  }
  if (front_table_sink_ && translation.front_table != front_table_) {
    front_table_ = std::move(translation.front_table);
    front_table_sink_(front_table_);
  }
  return stats;
}

}  // namespace agent::reconcile

namespace agent::reconcile {

std::map<std::string, std::string> Reconciler::Sources() const {
  std::lock_guard lock(mutex_);
  return sources_;
}

std::vector<std::string> Reconciler::Skipped() const {
  std::lock_guard lock(mutex_);
  return std::vector<std::string>(reported_.begin(), reported_.end());
}

ApplyStats Reconciler::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

bool Reconciler::Owns(const std::string& key) const {
  std::shared_lock lock(owned_mutex_);
  return owned_.count(key) > 0;
}

}  // namespace agent::reconcile
