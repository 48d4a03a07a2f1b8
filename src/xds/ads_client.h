// The xds-v3-grpc provisioner: an ADS client as istiod expects one, State-of-the-World
// (StreamAggregatedResources, the default) or Delta (DeltaAggregatedResources).
//
// It subscribes to every Cluster and Listener (wildcard), to the ClusterLoadAssignments those
// clusters need and the RouteConfigurations those listeners name (AdsSubscriptions), ACKs or
// NACKs each response (a NACK still applies the good resources, gRPC A46), and on any stream
// error reconnects with gRPC's backoff (1 s, ×1.6, ±20 % jitter, at most 120 s), re-subscribing
// from the last good state, which keeps being served meanwhile. A resource asked for and not
// delivered within 15 s is treated as absent (Envoy's initial-fetch timeout), logged once; the
// client is ready once the first complete CDS+EDS+LDS+RDS round has been applied.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/ads_stream.h"
#include "xds/ads_subscriptions.h"
#include "xds/xds_dump.h"

namespace agent::xds {

struct AdsClientOptions {
  std::string target;  // host:port
  envoy::config::core::v3::Node node;
  // grpcs://: TLS with these PEMs (empty CA = the system roots; cert and key for mutual TLS).
  bool tls = false;
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
  // A bearer token file (Istio's projected service-account token), re-read for every stream, as
  // it rotates. Sent only over TLS.
  std::string token_file;
  bool delta = false;  // --xds-protocol delta
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{120000};
  std::chrono::milliseconds absent_after{15000};  // Envoy's initial_fetch_timeout
};

class AdsClient {
 public:
  // The whole state, and what changed since the previous call.
  using UpdateCallback = std::function<void(const ResourceSnapshot&, const SnapshotChanges&)>;
  using ReadyCallback = std::function<void()>;

  // `on_update` runs on the client's thread after each response; `on_ready` once, after the
  // first complete round was applied (or what is missing of it was given up on).
  AdsClient(AdsClientOptions options, UpdateCallback on_update, ReadyCallback on_ready = nullptr);
  ~AdsClient();

  void Start();
  void Stop();

  // For tests and logs: how many streams were opened so far.
  int streams_opened() const { return streams_opened_.load(); }

  // /syncz: the control plane, the current stream, and each type's exchange.
  struct Status {
    std::string control_plane;
    std::string protocol;  // "sotw" | "delta"
    bool connected = false;  // a stream has delivered a response and is open
    std::chrono::system_clock::time_point stream_since{};
    int streams_opened = 0;  // reconnects = streams_opened - 1
    std::vector<TypeSyncStatus> types;
  };
  Status GetStatus() const;
  // /config_dump: what is held now, with each resource's version and response time.
  XdsDump Dump() const;
  bool ready() const { return ready_.load(); }

 private:
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  void Run();
  AdsStreamResult RunStream();
  void Tick();  // every second: the absent-resource rule
  void Publish();     // with state_mutex_ held: the snapshot to on_update_, unless warming
  void CheckReady();  // with state_mutex_ held
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> stream_since_ms_{0};

  const AdsClientOptions options_;
  UpdateCallback on_update_;
  ReadyCallback on_ready_;
  std::thread thread_;
  std::thread ticker_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> ready_{false};
  std::atomic<int> streams_opened_{0};
  std::mutex context_mutex_;
  std::unique_ptr<grpc::ClientContext> context_;  // of the live stream, to cancel it on Stop()
  std::mutex sleep_mutex_;
  std::condition_variable sleep_cv_;

  mutable std::mutex state_mutex_;
  AdsSubscriptions state_;
  bool held_ = false;  // an update waits for warming resources
  bool published_once_ = false;
};

}  // namespace agent::xds
