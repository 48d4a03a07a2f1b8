#include "xds/ads_client.h"

#include <fstream>
#include <iterator>
#include <random>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace agent::xds {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

namespace {

// The order istiod pushes and Envoy subscribes in: clusters before their endpoints, listeners
// before their routes.
constexpr const char* kTypes[] = {kClusterType, kClusterLoadAssignmentType, kListenerType, kRouteConfigurationType};

bool IsWildcard(const std::string& type) { return type == kClusterType || type == kListenerType; }

template <typename Message>
bool Decode(const google::protobuf::Any& any, Message& out, std::string& name, std::string& error) {
  if (!any.UnpackTo(&out)) {
    error = "does not decode";
    return false;
  }
  if constexpr (std::is_same_v<Message, envoy::config::endpoint::v3::ClusterLoadAssignment>) {
    name = out.cluster_name();
  } else {
    name = out.name();
  }
  if (name.empty()) {
    error = "has no name";
    return false;
  }
  return true;
}

// Full-state types: the response is the whole set; a resource that fails keeps its previous
// version (A46). By-name types: the response updates the names it carries.
template <typename Message>
std::vector<std::string> Apply(const DiscoveryResponse& response, std::map<std::string, Message>& into, bool full_state) {
  std::vector<std::string> errors;
  std::map<std::string, Message> next = full_state ? std::map<std::string, Message>() : into;
  for (int i = 0; i < response.resources_size(); ++i) {
    Message message;
    std::string name, error;
    if (!Decode(response.resources(i), message, name, error)) {
      errors.push_back(absl::StrCat(name.empty() ? absl::StrCat("resources[", i, "]") : name, " ", error));
      if (full_state && !name.empty() && into.count(name) > 0) next[name] = into.at(name);
      continue;
    }
    next[name] = std::move(message);
  }
  into = std::move(next);
  return errors;
}

}  // namespace

AdsClient::AdsClient(AdsClientOptions options, UpdateCallback on_update)
    : options_(std::move(options)), on_update_(std::move(on_update)) {}

AdsClient::~AdsClient() { Stop(); }

void AdsClient::Start() { thread_ = std::thread([this] { Run(); }); }

void AdsClient::Stop() {
  stopping_ = true;
  {
    std::lock_guard lock(context_mutex_);
    if (context_) context_->TryCancel();
  }
  sleep_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AdsClient::Run() {
  std::mt19937 random(std::random_device{}());
  std::chrono::milliseconds backoff = options_.initial_backoff;
  while (!stopping_) {
    const bool progressed = RunStream();
    if (stopping_) break;
    if (progressed) backoff = options_.initial_backoff;
    // gRPC's connection backoff: ±20 % jitter, ×1.6 up to the maximum.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto wait = std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * jitter(random)));
    log::Info("xds-v3-grpc: reconnecting to %s in %d ms", options_.target, wait.count());
    std::unique_lock lock(sleep_mutex_);
    sleep_cv_.wait_for(lock, wait, [this] { return stopping_.load(); });
    backoff = std::min(options_.max_backoff, std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * 1.6)));
  }
}

namespace {

// Adds "authorization: Bearer <token>" from a file to every call.
class TokenFilePlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenFilePlugin(std::string path) : path_(std::move(path)) {}
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    std::ifstream in(path_);
    std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "empty or unreadable token file " + path_);
    metadata->insert({"authorization", "Bearer " + token});
    return grpc::Status::OK;
  }

 private:
  std::string path_;
};

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> AdsClient::ChannelCredentials() const {
  if (!options_.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options_.ca_pem;
  ssl.pem_cert_chain = options_.client_cert_pem;
  ssl.pem_private_key = options_.client_key_pem;
  auto credentials = grpc::SslCredentials(ssl);
  if (options_.token_file.empty()) return credentials;
  return grpc::CompositeChannelCredentials(
      credentials, grpc::MetadataCredentialsFromPlugin(std::make_unique<TokenFilePlugin>(options_.token_file)));
}

bool AdsClient::RunStream() {
  // Keepalive pings notice a dead control plane behind a silent connection; istiod permits one
  // every 15 s, Envoy's default is 30 s.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  auto channel = grpc::CreateCustomChannel(options_.target, ChannelCredentials(), args);
  auto stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  {
    std::lock_guard lock(context_mutex_);
    context_ = std::make_unique<grpc::ClientContext>();
    if (stopping_) return false;
  }
  auto stream = stub->StreamAggregatedResources(context_.get());
  ++streams_opened_;
  // (Re)subscribe: the wildcard types always, the named ones if they have names; versions and
  // nonces from the last good state, so the server can tell what the agent already has.
  for (auto& [type, state] : types_) state.requested = false;
  for (const char* type : kTypes) {
    TypeState& state = types_[type];
    state.nonce.clear();
    if (IsWildcard(type) || !state.names.empty()) Send(*stream, type);
  }
  bool progressed = false;
  DiscoveryResponse response;
  while (stream->Read(&response)) {
    progressed = true;
    Handle(*stream, response);
  }
  grpc::Status status = stream->Finish();
  if (!stopping_) {
    // istiod answers UNAVAILABLE while it warms up: retried quietly.
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      log::Debug("xds-v3-grpc: %s unavailable: %s", options_.target, status.error_message());
    } else {
      log::Warn("xds-v3-grpc: stream to %s ended: %s (%d)", options_.target, status.error_message(),
                static_cast<int>(status.error_code()));
    }
  }
  return progressed;
}

bool AdsClient::Send(Stream& stream, const std::string& type, const std::string& error) {
  TypeState& state = types_[type];
  DiscoveryRequest request;
  request.set_type_url(type);
  request.set_version_info(state.version);
  request.set_response_nonce(state.nonce);
  for (const std::string& name : state.names) request.add_resource_names(name);
  if (!state.requested) *request.mutable_node() = options_.node;  // the first request of a type carries the node
  if (!error.empty()) {
    request.mutable_error_detail()->set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
    request.mutable_error_detail()->set_message(error);
  }
  state.requested = true;
  return stream.Write(request);
}

void AdsClient::Handle(Stream& stream, const DiscoveryResponse& response) {
  const std::string& type = response.type_url();
  std::vector<std::string> errors;
  if (type == kClusterType) {
    errors = Apply(response, snapshot_.clusters, true);
  } else if (type == kListenerType) {
    errors = Apply(response, snapshot_.listeners, true);
  } else if (type == kClusterLoadAssignmentType) {
    errors = Apply(response, snapshot_.cluster_load_assignments, false);
  } else if (type == kRouteConfigurationType) {
    errors = Apply(response, snapshot_.route_configurations, false);
  } else {
    log::Warn("xds-v3-grpc: ignoring a response of type %s, which the agent did not ask for", type);
    return;
  }
  TypeState& state = types_[type];
  state.nonce = response.nonce();
  if (errors.empty()) {
    state.version = response.version_info();
    Send(stream, type);  // ACK
  } else {
    const std::string message = absl::StrCat("apisix-mesh-agent rejected ", errors.size(), " resource(s) of version ",
                                             response.version_info(), ": ", absl::StrJoin(errors, "; "));
    log::Warn("xds-v3-grpc: NACK %s: %s", type, message);
    Send(stream, type, message);  // NACK: the previous good version, the new nonce
  }
  UpdateSubscriptions(stream);
  on_update_(snapshot_);
}

// The names the named types need follow the full-state types: assignments for EDS clusters,
// route configurations for listeners' RDS.
void AdsClient::UpdateSubscriptions(Stream& stream) {
  std::set<std::string> eds;
  for (const auto& [name, cluster] : snapshot_.clusters) {
    if (cluster.type() != envoy::config::cluster::v3::Cluster::EDS) continue;
    eds.insert(EdsServiceName(cluster));
  }
  std::set<std::string> rds;
  for (const auto& [name, listener] : snapshot_.listeners) {
    for (const auto& chain : listener.filter_chains()) {
      for (const auto& filter : chain.filters()) {
        envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
        if (filter.has_typed_config() && filter.typed_config().UnpackTo(&hcm) && hcm.has_rds()) {
          rds.insert(hcm.rds().route_config_name());
        }
      }
    }
  }
  auto resubscribe = [&](const char* type, std::set<std::string> names, auto& resources) {
    TypeState& state = types_[type];
    if (names == state.names) return;
    // Drop what is no longer wanted; never send an empty list (it would mean "everything").
    for (auto it = resources.begin(); it != resources.end();) {
      it = names.count(it->first) > 0 ? std::next(it) : resources.erase(it);
    }
    state.names = std::move(names);
    if (!state.names.empty()) Send(stream, type);
  };
  resubscribe(kClusterLoadAssignmentType, std::move(eds), snapshot_.cluster_load_assignments);
  resubscribe(kRouteConfigurationType, std::move(rds), snapshot_.route_configurations);
}

}  // namespace agent::xds
