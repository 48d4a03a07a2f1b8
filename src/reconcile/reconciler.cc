#include "reconcile/reconciler.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "apisix/resources.h"
#include "common/logging.h"
#include "translate/translator.h"

namespace agent::reconcile {

Reconciler::Reconciler(store::KvStore& store, apisix::KeyLayout layout, translate::TranslateOptions options)
    : store_(store), layout_(std::move(layout)), translator_(std::move(options)) {}

void Reconciler::Initialize() {
  std::vector<store::Mutation> mutations;
  for (std::string& key : layout_.DirectoryPlaceholderKeys()) {
    mutations.push_back(store::Mutation::Put(std::move(key), apisix::kDirectoryPlaceholderValue));
  }
  store_.Commit(mutations);
}

ApplyStats Reconciler::Apply(const xds::ResourceSnapshot& snapshot) {
  std::lock_guard apply_lock(apply_mutex_);  // one update at a time: the translator's cache is not shared
  translate::Translation translation = translator_.Translate(snapshot);
  if (layout_.line() == apisix::VersionLine::k2x) translate::DowngradePluginsTo2x(translation);
  // Report what was left out once, not again on every later update that still leaves it out.
  std::set<std::string> reported;
  for (const translate::Skipped& s : translation.skipped) {
    std::string line = s.ToString();
    if (reported_.count(line) == 0) log::Warn("translation skipped %s", line);
    reported.insert(std::move(line));
  }

  std::map<std::string, std::string> desired;
  for (const apisix::Upstream& u : translation.upstreams) desired.emplace(layout_.UpstreamKey(u.id), EncodeJson(u));
  for (const apisix::Route& r : translation.routes) desired.emplace(layout_.RouteKey(r.id), EncodeJson(r));

  ApplyStats stats;
  stats.routes = translation.routes.size();
  stats.upstreams = translation.upstreams.size();
  stats.skipped = translation.skipped.size();

  std::lock_guard lock(mutex_);
  // One commit: a watcher receives routes and their upstreams in one message, in any key order.
  std::vector<store::Mutation> mutations;
  for (const auto& [key, value] : desired) {
    auto it = applied_.find(key);
    if (it == applied_.end() || it->second != value) mutations.push_back(store::Mutation::Put(key, value));
  }
  for (const auto& [key, value] : applied_) {
    if (desired.count(key) == 0) mutations.push_back(store::Mutation::Delete(key));
  }
  for (const auto& m : mutations) (m.kind == store::Mutation::Kind::kPut ? stats.puts : stats.deletes) += 1;
  stats.revision = mutations.empty() ? store_.current_revision() : store_.Commit(mutations);
  applied_ = std::move(desired);
  reported_ = std::move(reported);
  stats.applies = ++applies_;
  last_ = stats;
  return stats;
}

}  // namespace agent::reconcile

namespace agent::reconcile {

bool Reconciler::Owns(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return applied_.count(key) > 0;
}

}  // namespace agent::reconcile

namespace agent::reconcile {

std::string Reconciler::Metrics() const {
  std::lock_guard lock(mutex_);
  return absl::StrCat(
      "# HELP apisix_mesh_agent_xds_applies_total xDS updates applied.\n",
      "# TYPE apisix_mesh_agent_xds_applies_total counter\n", "apisix_mesh_agent_xds_applies_total ", applies_, "\n",
      "# HELP apisix_mesh_agent_translated_objects APISIX objects translated from xDS, by kind.\n",
      "# TYPE apisix_mesh_agent_translated_objects gauge\n",
      "apisix_mesh_agent_translated_objects{kind=\"route\"} ", last_.routes, "\n",
      "apisix_mesh_agent_translated_objects{kind=\"upstream\"} ", last_.upstreams, "\n",
      "# HELP apisix_mesh_agent_translation_skipped xDS features the current configuration uses that APISIX cannot "
      "express (each is logged once at warn level).\n",
      "# TYPE apisix_mesh_agent_translation_skipped gauge\n", "apisix_mesh_agent_translation_skipped ",
      reported_.size(), "\n");
}

}  // namespace agent::reconcile
