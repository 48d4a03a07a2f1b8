// The xds-v3-grpc provisioner: a State-of-the-World ADS client (envoy's
// AggregatedDiscoveryService.StreamAggregatedResources) as istiod expects one.
//
// It subscribes to every Cluster and Listener (wildcard), to the ClusterLoadAssignments those
// clusters need and the RouteConfigurations those listeners name — updated as those sets change,
// never with an empty list that would unsubscribe. Each response is ACKed with its version, or
// NACKed with the last good version and an error naming the bad resources, while the good ones of
// that response are still applied (gRPC A46). Clusters and Listeners are complete state per
// response; assignments and route configurations are updated by name. On any stream error it
// reconnects with gRPC's backoff (1 s, ×1.6, ±20 % jitter, at most 120 s), re-subscribing from the
// last good versions, and the last good configuration keeps being served meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/resource_snapshot.h"

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
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{120000};
};

class AdsClient {
 public:
  using UpdateCallback = std::function<void(const ResourceSnapshot&)>;

  // `on_update` runs on the client's thread after each response that changed something.
  AdsClient(AdsClientOptions options, UpdateCallback on_update);
  ~AdsClient();

  void Start();
  void Stop();

  // For tests and logs: how many streams were opened so far.
  int streams_opened() const { return streams_opened_.load(); }

 private:
  using Stream = grpc::ClientReaderWriterInterface<envoy::service::discovery::v3::DiscoveryRequest,
                                                   envoy::service::discovery::v3::DiscoveryResponse>;
  struct TypeState {
    std::string version;  // last ACKed
    std::string nonce;    // of the last response
    std::set<std::string> names;  // EDS/RDS subscriptions; empty for the wildcard types
    bool requested = false;
  };

  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  void Run();
  bool RunStream();  // true if the stream delivered at least one response
  bool Send(Stream& stream, const std::string& type, const std::string& error = "");
  void Handle(Stream& stream, const envoy::service::discovery::v3::DiscoveryResponse& response);
  void UpdateSubscriptions(Stream& stream);

  const AdsClientOptions options_;
  UpdateCallback on_update_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_opened_{0};
  std::mutex context_mutex_;
  std::unique_ptr<grpc::ClientContext> context_;  // of the live stream, to cancel it on Stop()
  std::mutex sleep_mutex_;
  std::condition_variable sleep_cv_;

  std::map<std::string, TypeState> types_;
  ResourceSnapshot snapshot_;
};

}  // namespace agent::xds
