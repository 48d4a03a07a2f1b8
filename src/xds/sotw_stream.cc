// State-of-the-World ADS, as istiod handles it (reference/xds-istio.md §2): a request per type
// carries the type's whole subscription, the last accepted version and the nonce of the last
// response of that type on this stream; an empty nonce (re)opens the subscription.
#include "common/logging.h"
#include "xds/ads_stream.h"

namespace agent::xds {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

namespace {

class StateOfTheWorldStream {
 public:
  explicit StateOfTheWorldStream(AdsStreamEnv& env)
      : env_(env), stream_(env.stub.StreamAggregatedResources(&env.context)) {}

  AdsStreamResult Run() {
    {
      std::lock_guard lock(env_.mutex);
      env_.state.StartWildcardClocks(AdsSubscriptions::Clock::now());
      // The wildcard types always; the named ones if there are names (an empty list would mean
      // "unsubscribe"), from the last accepted versions, so the server can tell what is held.
      for (const char* type : kAdsTypes) {
        if (IsWildcardType(type) || !env_.state.names(type).empty()) Send(type);
      }
    }
    return ReadUntilEnd<DiscoveryResponse>(*stream_, env_.mutex, [this](const DiscoveryResponse& r) { Handle(r); });
  }

 private:
  void Send(const std::string& type, const std::string& error = "") {
    // Every request of a named type repeats the whole subscription (an EDS ACK names every
    // cluster's endpoints: tens of thousands at mesh scale), so each type's request is kept and its
    // name list rebuilt only when the subscription changes.
    Request& kept = requests_[type];
    DiscoveryRequest& request = kept.request;
    const uint64_t generation = env_.state.names_generation(type);
    if (!kept.named || kept.generation != generation) {
      request.clear_resource_names();
      for (const std::string& name : env_.state.names(type)) request.add_resource_names(name);
      kept.named = true;
      kept.generation = generation;
    }
    request.set_type_url(type);
    request.set_version_info(env_.state.accepted_version(type));
    request.set_response_nonce(nonces_[type]);  // the latest of the type, or istiod drops it as stale
    if (node_sent_.insert(type).second) {
      *request.mutable_node() = env_.node;  // a type's first request
    } else {
      request.clear_node();
    }
    if (!error.empty()) {
      request.mutable_error_detail()->set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      request.mutable_error_detail()->set_message(error);
    } else {
      request.clear_error_detail();
    }
    stream_->Write(request);
  }

  struct Request {
    DiscoveryRequest request;
    bool named = false;       // its resource names are filled in
    uint64_t generation = 0;  // from the subscription's names at that generation
  };

  void Handle(const DiscoveryResponse& response) {
    const std::string& type = response.type_url();
    if (!IsSubscribedType(type)) return;
    const std::vector<std::string> errors = env_.state.ApplyStateOfTheWorld(type, response.resources(), response.version_info());
    nonces_[type] = response.nonce();
    env_.state.RecordResponse(type, response.nonce());
    if (errors.empty()) env_.state.set_accepted_version(type, response.version_info());
    const std::vector<std::string> renamed = env_.state.RefreshNames(AdsSubscriptions::Clock::now());
    // APISIX first: an EDS ACK repeats every subscribed name (thousands), which need not delay it.
    env_.changed();
    if (errors.empty()) {
      env_.state.RecordAck(type);
      log::DebugWith({{"event", "ack"}, {"type", type}, {"version", response.version_info()}, {"nonce", response.nonce()},
                      {"resources", response.resources_size()}},
                     "xds-v3-grpc: ACK %s version %s (%d resources)", type, response.version_info(),
                     response.resources_size());
      Send(type);  // ACK
    } else {
      const std::string message = RejectionMessage(errors, response.version_info());
      env_.state.RecordNack(type, message);
      log::WarnWith({{"event", "nack"}, {"type", type}, {"version", response.version_info()}, {"nonce", response.nonce()},
                     {"error_detail", message}},
                    "xds-v3-grpc: NACK %s: %s", type, message);
      Send(type, message);  // NACK: the previous accepted version, this response's nonce
    }
    // Make before break: the new clusters' endpoints and listeners' routes are asked for now
    // (the update that needs them waits for them: AdsClient's warming).
    for (const std::string& named : renamed) {
      if (!env_.state.names(named).empty()) Send(named);
    }
  }

  AdsStreamEnv& env_;
  std::unique_ptr<grpc::ClientReaderWriterInterface<DiscoveryRequest, DiscoveryResponse>> stream_;
  std::map<std::string, std::string> nonces_;
  std::map<std::string, Request> requests_;
  std::set<std::string> node_sent_;
};

}  // namespace

AdsStreamResult RunStateOfTheWorldStream(AdsStreamEnv& env) { return StateOfTheWorldStream(env).Run(); }

}  // namespace agent::xds
