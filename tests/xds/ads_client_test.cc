// The ADS client against a scriptable in-process management server: istiod's push order, ACKs,
// a NACK that still applies the good resources, endpoint-only pushes, cluster removal, and a
// server restart.
#include "xds/ads_client.h"
#include "xds/node_identity.h"

#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

namespace agent::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

template <typename Message>
google::protobuf::Any Pack(const std::string& json) {
  Message m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json;
  google::protobuf::Any any;
  any.PackFrom(m);
  return any;
}

google::protobuf::Any EdsCluster(const std::string& name) {
  return Pack<envoy::config::cluster::v3::Cluster>(R"({"name":")" + name + R"(","type":"EDS","edsClusterConfig":{"edsConfig":{"ads":{}}}})");
}
google::protobuf::Any Assignment(const std::string& name, const std::string& ip) {
  return Pack<envoy::config::endpoint::v3::ClusterLoadAssignment>(
      R"({"clusterName":")" + name + R"(","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":")" +
      ip + R"(","portValue":80}}}}]}]})");
}
google::protobuf::Any RdsListener(const std::string& name, const std::string& rds) {
  return Pack<envoy::config::listener::v3::Listener>(
      R"({"name":")" + name + R"(","filterChains":[{"filters":[{"name":"hcm","typedConfig":{"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager","rds":{"routeConfigName":")" +
      rds + R"("}}}]}]})");
}
google::protobuf::Any Routes(const std::string& name) {
  return Pack<envoy::config::route::v3::RouteConfiguration>(R"({"name":")" + name + R"("})");
}

// A management server that answers each subscription with the current resources of its type and
// can push new versions to the live stream. Every request is recorded.
class ScriptedAdsServer final : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  grpc::Status StreamAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream) override {
    {
      std::lock_guard lock(mutex_);
      stream_ = stream;
      auto auth = context->client_metadata().find("authorization");
      if (auth != context->client_metadata().end()) authorization_ = std::string(auth->second.data(), auth->second.size());
    }
    DiscoveryRequest request;
    while (stream->Read(&request)) {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      cv_.notify_all();
      // A request without a nonce is a new subscription (or one after a reconnect): answer it.
      if (request.response_nonce().empty() || names_changed(request)) SendLocked(request.type_url());
    }
    std::lock_guard lock(mutex_);
    stream_ = nullptr;
    return grpc::Status::OK;
  }

  void Set(const std::string& type, std::string version, std::vector<google::protobuf::Any> resources) {
    std::lock_guard lock(mutex_);
    state_[type] = {std::move(version), std::move(resources)};
  }
  void Push(const std::string& type, std::string version, std::vector<google::protobuf::Any> resources) {
    std::lock_guard lock(mutex_);
    state_[type] = {std::move(version), std::move(resources)};
    SendLocked(type);
  }
  // The last request of `type` satisfying `pred`, waiting at most 10 s.
  std::optional<DiscoveryRequest> WaitFor(const std::string& type, const std::function<bool(const DiscoveryRequest&)>& pred) {
    std::unique_lock lock(mutex_);
    std::optional<DiscoveryRequest> found;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
        if (it->type_url() == type && pred(*it)) {
          found = *it;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::string authorization() {
    std::lock_guard lock(mutex_);
    return authorization_;
  }
  std::string last_nonce(const std::string& type) {
    std::lock_guard lock(mutex_);
    return nonces_[type];
  }

 private:
  bool names_changed(const DiscoveryRequest& request) {
    auto& last = names_[request.type_url()];
    std::vector<std::string> now(request.resource_names().begin(), request.resource_names().end());
    bool changed = now != last;
    last = now;
    return changed;
  }
  void SendLocked(const std::string& type) {
    if (stream_ == nullptr || state_.count(type) == 0) return;
    DiscoveryResponse response;
    response.set_type_url(type);
    response.set_version_info(state_[type].first);
    response.set_nonce(absl::StrCat("n", ++nonce_));
    nonces_[type] = response.nonce();
    for (const auto& any : state_[type].second) *response.add_resources() = any;
    stream_->Write(response);
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream_ = nullptr;
  std::vector<DiscoveryRequest> requests_;
  std::map<std::string, std::pair<std::string, std::vector<google::protobuf::Any>>> state_;
  std::map<std::string, std::vector<std::string>> names_;
  std::map<std::string, std::string> nonces_;
  int nonce_ = 0;
  std::string authorization_;
};

class AdsClientTest : public ::testing::Test {
 protected:
  void StartServer(int port = 0, std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials()) {
    server_ = std::make_unique<ScriptedAdsServer>();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), credentials, &port_);
    builder.RegisterService(server_.get());
    grpc_server_ = builder.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
  }
  void StopServer() {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    grpc_server_.reset();
  }
  void StartClient(AdsClientOptions options = {}) {
    options.target = "127.0.0.1:" + std::to_string(port_);
    NodeIdentity id;
    id.pod_name = "details-v1-79f774bdb9-6hxw6";
    id.pod_namespace = "default";
    id.instance_ip = "10.244.0.12";
    options.node = id.ToNode("test");
    options.initial_backoff = std::chrono::milliseconds(100);
    client_ = std::make_unique<AdsClient>(options, [this](const ResourceSnapshot& s) {
      std::lock_guard lock(mutex_);
      snapshot_ = s;
      cv_.notify_all();
    });
    client_->Start();
  }
  // The smallest full configuration: EDS cluster "a" with one endpoint, no listeners.
  void ServeOneCluster(const std::string& ip = "10.0.0.1") {
    server_->Set(kClusterType, "v1", {EdsCluster("a")});
    server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("a", ip)});
    server_->Set(kListenerType, "l1", {});
  }
  static std::string FirstAddress(const ResourceSnapshot& s, const std::string& cluster) {
    return s.cluster_load_assignments.at(cluster).endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address();
  }
  bool WaitSnapshot(const std::function<bool(const ResourceSnapshot&)>& pred) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return pred(snapshot_); });
  }
  void TearDown() override {
    if (client_) client_->Stop();
    if (grpc_server_) StopServer();
  }

  std::unique_ptr<ScriptedAdsServer> server_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
  std::unique_ptr<AdsClient> client_;
  std::mutex mutex_;
  std::condition_variable cv_;
  ResourceSnapshot snapshot_;
};

TEST_F(AdsClientTest, SubscribesLikeASidecarAndAcksEveryType) {
  StartServer();
  server_->Set(kClusterType, "c1", {EdsCluster("outbound|80||a"), EdsCluster("outbound|80||b")});
  server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("outbound|80||a", "10.0.0.1"), Assignment("outbound|80||b", "10.0.0.2")});
  server_->Set(kListenerType, "l1", {RdsListener("0.0.0.0_80", "80")});
  server_->Set(kRouteConfigurationType, "r1", {Routes("80")});
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 2 && s.cluster_load_assignments.size() == 2 && s.listeners.size() == 1 &&
           s.route_configurations.size() == 1;
  }));
  auto first_cds = server_->WaitFor(kClusterType, [](const DiscoveryRequest& r) { return r.response_nonce().empty(); });
  ASSERT_TRUE(first_cds.has_value());
  EXPECT_EQ(first_cds->node().id(), "sidecar~10.244.0.12~details-v1-79f774bdb9-6hxw6.default~default.svc.cluster.local");
  EXPECT_EQ(first_cds->node().metadata().fields().at("NAMESPACE").string_value(), "default");
  EXPECT_TRUE(first_cds->resource_names().empty());  // wildcard
  auto eds = server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) { return r.version_info() == "e1"; });
  ASSERT_TRUE(eds.has_value());  // ACKed
  EXPECT_EQ(eds->resource_names_size(), 2);
  EXPECT_TRUE(server_->WaitFor(kRouteConfigurationType, [](const DiscoveryRequest& r) {
                return r.version_info() == "r1" && r.resource_names_size() == 1 && r.resource_names(0) == "80";
              }).has_value());
}

TEST_F(AdsClientTest, NackKeepsThePreviousVersionButAppliesTheGoodResources) {
  StartServer();
  ServeOneCluster();
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  ASSERT_TRUE(server_->WaitFor(kClusterType, [](const DiscoveryRequest& r) { return r.version_info() == "v1"; }));

  google::protobuf::Any nameless = EdsCluster("");
  server_->Push(kClusterType, "v2", {EdsCluster("a"), EdsCluster("b"), nameless});
  auto nack = server_->WaitFor(kClusterType, [](const DiscoveryRequest& r) { return r.has_error_detail(); });
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->version_info(), "v1");                         // the last good version
  EXPECT_EQ(nack->response_nonce(), server_->last_nonce(kClusterType));  // the rejected response's nonce
  EXPECT_NE(nack->error_detail().message().find("resources[2] has no name"), std::string::npos);
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.clusters.count("b") == 1; }));  // still applied
  // The new cluster's endpoints are subscribed to, with both names.
  EXPECT_TRUE(server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) {
                return r.resource_names_size() == 2;
              }).has_value());
}

TEST_F(AdsClientTest, EndpointPushesAndClusterRemoval) {
  StartServer();
  server_->Set(kClusterType, "v1", {EdsCluster("a"), EdsCluster("b")});
  server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2")});
  server_->Set(kListenerType, "l1", {});
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 2; }));

  server_->Push(kClusterLoadAssignmentType, "e2", {Assignment("a", "10.0.0.9")});  // by name: b stays
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.cluster_load_assignments.size() == 2 &&
           FirstAddress(s, "a") == "10.0.0.9";
  }));

  server_->Push(kClusterType, "v2", {EdsCluster("a")});  // full state: b is gone, and so are its endpoints
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 1 && s.cluster_load_assignments.size() == 1;
  }));
  EXPECT_TRUE(server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) {
                return r.resource_names_size() == 1 && r.resource_names(0) == "a";
              }).has_value());
}

TEST_F(AdsClientTest, ReconnectsAfterAServerRestartAndResubscribesFromTheLastGoodState) {
  StartServer();
  ServeOneCluster();
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  const int port = port_;
  StopServer();

  StartServer(port);
  server_->Set(kClusterType, "v2", {EdsCluster("a")});
  server_->Set(kClusterLoadAssignmentType, "e2", {Assignment("a", "10.0.0.7")});
  server_->Set(kListenerType, "l1", {});
  auto resubscribe = server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) {
    return r.response_nonce().empty() && r.version_info() == "e1";  // from the last good state
  });
  ASSERT_TRUE(resubscribe.has_value());
  EXPECT_EQ(resubscribe->resource_names_size(), 1);
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.cluster_load_assignments.count("a") == 1 &&
           FirstAddress(s, "a") == "10.0.0.7";
  }));
  EXPECT_GE(client_->streams_opened(), 2);
}

}  // namespace
}  // namespace agent::xds

namespace agent::xds {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Istio's 15012: TLS with istiod's certificate from the mesh CA, and the pod's service-account
// token as a bearer token. The test makes its own CA with openssl.
TEST_F(AdsClientTest, GrpcsWithACaAndABearerTokenFile) {
  const std::string dir = ::testing::TempDir() + "/ads_tls_" + std::to_string(::getpid());
  const std::string script =
      "set -e; mkdir -p " + dir + "; cd " + dir +
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=istiod -keyout server.key -out server.csr 2>/dev/null"
      "; printf 'subjectAltName=IP:127.0.0.1' > san.ext"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.pem 2>/dev/null"
      "; printf 'token-abc\\n' > token";
  ASSERT_EQ(std::system(("bash -c \"" + script + "\"").c_str()), 0) << "openssl is needed for this test";

  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({ReadAll(dir + "/server.key"), ReadAll(dir + "/server.pem")});
  StartServer(0, grpc::SslServerCredentials(tls));
  ServeOneCluster();

  AdsClientOptions options;
  options.tls = true;
  options.ca_pem = ReadAll(dir + "/ca.pem");
  options.token_file = dir + "/token";
  StartClient(options);
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  EXPECT_EQ(server_->authorization(), "Bearer token-abc");
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace agent::xds
