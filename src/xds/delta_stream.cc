// Delta ADS (reference/xds-istio.md §3): subscriptions change by difference, responses carry only
// what changed plus removed names, and on a reconnect initial_resource_versions tells the server
// what the agent still holds. An ACK (the response's nonce) never changes a subscription; those
// changes go in their own requests with an empty nonce, as istiod requires.
#include "common/logging.h"
#include "xds/ads_stream.h"

namespace agent::xds {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

namespace {

class DeltaStream {
 public:
  explicit DeltaStream(AdsStreamEnv& env) : env_(env), stream_(env.stub.DeltaAggregatedResources(&env.context)) {}

  AdsStreamResult Run() {
    {
      std::lock_guard lock(env_.mutex);
      env_.state.StartWildcardClocks(AdsSubscriptions::Clock::now());
      for (const char* type : kAdsTypes) {
        // Wildcard types subscribe to nothing in particular (= everything); named types to their names.
        if (!IsWildcardType(type) && env_.state.names(type).empty()) continue;
        DeltaDiscoveryRequest request = NewRequest(type);
        for (auto& [name, version] : env_.state.ResourceVersions(type)) {
          (*request.mutable_initial_resource_versions())[name] = version;
        }
        Subscribe(request);
        stream_->Write(request);
      }
    }
    return ReadUntilEnd<DeltaDiscoveryResponse>(*stream_, env_.mutex,
                                                [this](const DeltaDiscoveryResponse& r) { Handle(r); });
  }

 private:
  DeltaDiscoveryRequest NewRequest(const std::string& type) {
    DeltaDiscoveryRequest request;
    request.set_type_url(type);
    if (!node_sent_) *request.mutable_node() = env_.node;  // the stream's first request only
    node_sent_ = true;
    return request;
  }

  // Adds the difference between the names wanted and the names this stream subscribed to.
  void Subscribe(DeltaDiscoveryRequest& request) {
    const std::string& type = request.type_url();
    if (IsWildcardType(type)) return;
    const std::set<std::string>& wanted = env_.state.names(type);
    std::set<std::string>& subscribed = subscribed_[type];
    for (const std::string& name : wanted) {
      if (subscribed.count(name) == 0) request.add_resource_names_subscribe(name);
    }
    for (const std::string& name : subscribed) {
      if (wanted.count(name) == 0) request.add_resource_names_unsubscribe(name);
    }
    subscribed = wanted;
  }

  void Handle(const DeltaDiscoveryResponse& response) {
    const std::string& type = response.type_url();
    if (!IsSubscribedType(type)) return;
    const std::vector<std::string> errors =
        env_.state.ApplyDelta(type, response.resources(), response.removed_resources());
    DeltaDiscoveryRequest ack = NewRequest(type);
    ack.set_response_nonce(response.nonce());
    env_.state.RecordResponse(type, response.nonce());
    if (errors.empty()) {
      env_.state.set_accepted_version(type, response.system_version_info());
      env_.state.RecordAck(type);
      log::DebugWith({{"event", "ack"}, {"type", type}, {"version", response.system_version_info()},
                      {"nonce", response.nonce()}, {"resources", response.resources_size()},
                      {"removed", response.removed_resources_size()}},
                     "xds-v3-grpc: ACK %s (delta) version %s (%d resources, %d removed)", type,
                     response.system_version_info(), response.resources_size(), response.removed_resources_size());
    } else {
      const std::string message = RejectionMessage(errors, response.system_version_info());
      env_.state.RecordNack(type, message);
      log::WarnWith({{"event", "nack"}, {"type", type}, {"version", response.system_version_info()},
                     {"nonce", response.nonce()}, {"error_detail", message}},
                    "xds-v3-grpc: NACK %s (delta): %s", type, message);
      ack.mutable_error_detail()->set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      ack.mutable_error_detail()->set_message(message);
    }
    stream_->Write(ack);
    for (const std::string& named : env_.state.RefreshNames(AdsSubscriptions::Clock::now())) {
      DeltaDiscoveryRequest change = NewRequest(named);
      Subscribe(change);
      if (change.resource_names_subscribe_size() + change.resource_names_unsubscribe_size() > 0) {
        stream_->Write(change);
      }
    }
    env_.changed();
  }

  AdsStreamEnv& env_;
  std::unique_ptr<grpc::ClientReaderWriterInterface<DeltaDiscoveryRequest, DeltaDiscoveryResponse>> stream_;
  std::map<std::string, std::set<std::string>> subscribed_;
  bool node_sent_ = false;
};

}  // namespace

AdsStreamResult RunDeltaStream(AdsStreamEnv& env) { return DeltaStream(env).Run(); }

}  // namespace agent::xds
