#include "xds/ads_client.h"

#include <fstream>
#include <iterator>
#include <random>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "common/logging.h"

namespace agent::xds {

AdsClient::AdsClient(AdsClientOptions options, UpdateCallback on_update, ReadyCallback on_ready)
    : options_(std::move(options)), on_update_(std::move(on_update)), on_ready_(std::move(on_ready)) {}

AdsClient::~AdsClient() { Stop(); }

void AdsClient::Start() {
  thread_ = std::thread([this] { Run(); });
  ticker_ = std::thread([this] { Tick(); });
}

void AdsClient::Stop() {
  {
    // Under the sleepers' mutex, so a thread between its check and its wait cannot miss the
    // wake-up (and sleep out a 120 s backoff while the agent shuts down).
    std::lock_guard lock(sleep_mutex_);
    stopping_ = true;
  }
  {
    std::lock_guard lock(context_mutex_);
    if (context_) context_->TryCancel();
  }
  sleep_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (ticker_.joinable()) ticker_.join();
}

void AdsClient::Run() {
  std::mt19937 random(std::random_device{}());
  std::chrono::milliseconds backoff = options_.initial_backoff;
  while (!stopping_) {
    const AdsStreamResult result = RunStream();
    if (stopping_) break;
    // istiod answers UNAVAILABLE while it warms up or restarts: retried quietly.
    if (result.status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      log::Debug("xds-v3-grpc: %s unavailable: %s", options_.target, result.status.error_message());
    } else {
      log::WarnWith({{"event", "stream_ended"}, {"control_plane", options_.target},
                     {"code", static_cast<int>(result.status.error_code())}, {"error", result.status.error_message()}},
                    "xds-v3-grpc: stream to %s ended: %s (%d)", options_.target, result.status.error_message(),
                    static_cast<int>(result.status.error_code()));
    }
    if (result.progressed) backoff = options_.initial_backoff;
    // gRPC's connection backoff: ±20 % jitter, ×1.6 up to the maximum.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto wait = std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * jitter(random)));
    log::InfoWith({{"event", "reconnecting"}, {"control_plane", options_.target}, {"backoff_ms", wait.count()}},
                  "xds-v3-grpc: reconnecting to %s in %d ms", options_.target, wait.count());
    std::unique_lock lock(sleep_mutex_);
    sleep_cv_.wait_for(lock, wait, [this] { return stopping_.load(); });
    backoff = std::min(options_.max_backoff, std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * 1.6)));
  }
}

void AdsClient::Tick() {
  while (!stopping_) {
    {
      std::unique_lock lock(sleep_mutex_);
      sleep_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_.load(); });
    }
    if (stopping_) break;
    std::lock_guard lock(state_mutex_);
    const auto expired = state_.ExpireOverdue(AdsSubscriptions::Clock::now(), options_.absent_after);
    for (const std::string& missing : expired) {
      log::Warn("xds-v3-grpc: %s was asked for %d s ago and not delivered; treated as absent", missing,
                std::chrono::duration_cast<std::chrono::seconds>(options_.absent_after).count());
    }
    if (expired.empty()) continue;
    if (held_) {
      Publish();  // what waited for the missing resources goes out without them
    } else {
      CheckReady();  // e.g. a type never answered: the first round may be complete now
    }
  }
}

void AdsClient::Publish() {
  // Like Envoy's cluster and listener warming: while endpoints or routes asked for are on their
  // way, the update waits for them (at most absent_after), so APISIX never sees an upstream
  // without its nodes or a listener's routes half there.
  if (state_.Warming()) {
    held_ = true;
    return;
  }
  held_ = false;
  const SnapshotChanges changes = state_.TakeChanges();
  if (!changes.empty() || !published_once_) {  // a response that changed nothing (a resend) is not an update
    published_once_ = true;
    on_update_(state_.snapshot(), changes);
  }
  CheckReady();
}

void AdsClient::CheckReady() {
  if (ready_ || !state_.InitialRoundComplete()) return;
  ready_ = true;
  log::InfoWith({{"event", "ready"}, {"resources", state_.snapshot().size()}},
                "xds-v3-grpc: first complete configuration applied (%d resources)", state_.snapshot().size());
  if (on_ready_) on_ready_();
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

AdsStreamResult AdsClient::RunStream() {
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
    if (stopping_) return {};
  }
  ++streams_opened_;
  AdsStreamEnv env{*stub, *context_, options_.node, state_, state_mutex_, [this] {
                     if (!connected_.exchange(true)) {
                       stream_since_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count();
                     }
                     Publish();
                   }};
  AdsStreamResult result = options_.delta ? RunDeltaStream(env) : RunStateOfTheWorldStream(env);
  connected_ = false;
  return result;
}

XdsDump AdsClient::Dump() const {
  XdsDump dump;
  std::lock_guard lock(state_mutex_);
  dump.snapshot = state_.snapshot();
  std::map<std::string, TypeSyncStatus> exchange;
  for (TypeSyncStatus& s : state_.SyncStatus()) exchange[s.type] = std::move(s);
  // Each resource with the version and time of the response that last changed it (Envoy's
  // version_info and last_updated).
  auto add = [&](const std::string& type, const auto& resources) {
    for (const auto& [name, resource] : resources) {
      const ResourceUpdate* update = state_.UpdateOf(type, name);
      dump.origins[type][name] =
          update != nullptr ? ResourceOrigin{*update->version, "ads " + options_.target, update->at}
                            : ResourceOrigin{exchange[type].accepted_version, "ads " + options_.target, exchange[type].last_response};
    }
  };
  add(kListenerType, dump.snapshot.listeners);
  add(kRouteConfigurationType, dump.snapshot.route_configurations);
  add(kClusterType, dump.snapshot.clusters);
  add(kClusterLoadAssignmentType, dump.snapshot.cluster_load_assignments);
  return dump;
}

AdsClient::Status AdsClient::GetStatus() const {
  Status s;
  s.control_plane = options_.target;
  s.protocol = options_.delta ? "delta" : "sotw";
  s.connected = connected_.load();
  s.stream_since = std::chrono::system_clock::time_point(std::chrono::milliseconds(stream_since_ms_.load()));
  s.streams_opened = streams_opened_.load();
  std::lock_guard lock(state_mutex_);
  s.types = state_.SyncStatus();
  return s;
}

}  // namespace agent::xds
