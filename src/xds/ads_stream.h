// One ADS stream, from its opening requests to its end, in either wire protocol. The client owns
// the reconnect loop and the state; a stream reads and writes the state under the client's lock
// and calls `changed` after each response it applied.
#pragma once

#include <functional>
#include <mutex>

#include <grpcpp/client_context.h>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/ads_subscriptions.h"

namespace agent::xds {

struct AdsStreamEnv {
  envoy::service::discovery::v3::AggregatedDiscoveryService::StubInterface& stub;
  grpc::ClientContext& context;
  const envoy::config::core::v3::Node& node;
  AdsSubscriptions& state;
  std::mutex& mutex;                 // guards `state`
  std::function<void()> changed;     // called with `mutex` held, after a response was applied
};

struct AdsStreamResult {
  bool progressed = false;  // at least one response arrived (the client's backoff then resets)
  grpc::Status status;
};

AdsStreamResult RunStateOfTheWorldStream(AdsStreamEnv& env);  // StreamAggregatedResources
AdsStreamResult RunDeltaStream(AdsStreamEnv& env);            // DeltaAggregatedResources

// Reads responses until the stream ends, handling each under the state's lock; then its status.
template <typename Response, typename Stream, typename Handle>
AdsStreamResult ReadUntilEnd(Stream& stream, std::mutex& mutex, Handle&& handle) {
  AdsStreamResult result;
  Response response;
  while (stream.Read(&response)) {
    result.progressed = true;
    std::lock_guard lock(mutex);
    handle(response);
  }
  result.status = stream.Finish();
  return result;
}

// Whether a response's type is one the agent subscribes to (logs the others, which it ignores).
bool IsSubscribedType(const std::string& type);

// The NACK's error_detail message: "apisix-mesh-agent rejected N resource(s) of version V: …".
std::string RejectionMessage(const std::vector<std::string>& errors, const std::string& version);

}  // namespace agent::xds
