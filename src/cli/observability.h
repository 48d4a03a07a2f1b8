// The sidecar's observability, wired in one place: the metrics registry (what each component
// exposes), the etcd API's request observer, the xDS apply latency, and the admin endpoint with
// its config dump and sync status. docs/operations.md lists every metric.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "admin/admin_server.h"
#include "apisix/key_layout.h"
#include "common/metrics.h"
#include "config/listen_address.h"
#include "etcd/watch_registry.h"
#include "reconcile/reconciler.h"
#include "sink/etcd_sink.h"
#include "store/kv_store.h"
#include "xds/ads_client.h"
#include "xds/file_source.h"

namespace agent::cli {

class Observability {
 public:
  Observability(store::KvStore& store, reconcile::Reconciler& reconciler, apisix::KeyLayout layout);
  ~Observability();

  metrics::Registry& registry() { return registry_; }
  // For EtcdApiOptions::observe.
  void ObserveEtcd(absl::string_view method, absl::string_view protocol, absl::StatusCode code, double seconds);
  // For the apply callback: the time from a snapshot's arrival to the revision that serves it.
  void ObserveApply(double seconds) { apply_seconds_.Observe(seconds); }
  // The provisioner, once it exists (exactly one of them).
  void SetXdsSource(const xds::AdsClient* ads, const xds::FileSource* files);
  // The etcd server's watch streams, once it exists.
  void SetWatchRegistry(const etcd::WatchRegistry* registry) { watches_ = registry; }
  void SetEtcdSink(const sink::EtcdSink* sink) { sink_ = sink; }

  absl::Status StartAdmin(const config::ListenAddress& listen, bool allow_remote);
  uint16_t admin_port() const { return admin_ ? admin_->port() : 0; }
  void Stop();

  nlohmann::json ConfigDump(const admin::DumpFilter& filter) const;
  nlohmann::json Syncz() const;

 private:
  void RegisterMetrics();

  store::KvStore& store_;
  reconcile::Reconciler& reconciler_;
  const apisix::KeyLayout layout_;
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  metrics::Registry registry_;
  metrics::Family<metrics::Counter>* etcd_requests_ = nullptr;
  metrics::Family<metrics::Histogram>* etcd_seconds_ = nullptr;
  metrics::Histogram& apply_seconds_;
  std::atomic<const xds::AdsClient*> ads_{nullptr};
  std::atomic<const xds::FileSource*> files_{nullptr};
  std::atomic<const etcd::WatchRegistry*> watches_{nullptr};
  std::atomic<const sink::EtcdSink*> sink_{nullptr};
  std::unique_ptr<admin::AdminServer> admin_;
};

}  // namespace agent::cli
