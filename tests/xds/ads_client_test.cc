// The ADS client against a scriptable in-process management server that handles requests the way
// istiod does: istiod's push order, ACKs, a NACK that still applies the good resources,
// endpoint-only pushes, route changes, cluster removal, stale nonces, withheld resources and
// readiness, a server restart, Delta xDS, and TLS with a bearer token.
#include "xds/ads_client.h"
#include "xds/node_identity.h"
#include "xds/scripted_ads_server.h"

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

using testing::DeltaDiscoveryRequest;
using testing::DiscoveryRequest;
using testing::ScriptedAdsServer;

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
    client_ = std::make_unique<AdsClient>(
        options,
        [this](const ResourceSnapshot& s, const SnapshotChanges&) {
          std::lock_guard lock(mutex_);
          snapshot_ = s;
          ++updates_;
          cv_.notify_all();
        },
        [this] {
          std::lock_guard lock(mutex_);
          ready_calls_++;
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
    return s.cluster_load_assignments.at(cluster).Unpack().endpoints(0).lb_endpoints(0).endpoint().address().socket_address().address();
  }
  bool WaitSnapshot(const std::function<bool(const ResourceSnapshot&)>& pred) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return pred(snapshot_); });
  }
  bool WaitReady() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ready_calls_ > 0; });
  }
  // The last published snapshot, copied under the lock (the client thread may publish again).
  ResourceSnapshot snapshot() {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }
  int ready_calls() {
    std::lock_guard lock(mutex_);
    return ready_calls_;
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
  int updates_ = 0;
  int ready_calls_ = 0;
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
  server_->Set(kClusterLoadAssignmentType, "e2", {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2")});
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

// The stream keeps each type's request between ACKs (an EDS ACK repeats every subscribed name):
// what changes between two requests — version, nonce, names, node, error — must never carry over.
TEST_F(AdsClientTest, KeptRequestsCarryNothingOverFromTheLastOne) {
  StartServer();
  ServeOneCluster();
  StartClient();
  ASSERT_TRUE(server_->WaitFor(kClusterType, [](const DiscoveryRequest& r) { return r.version_info() == "v1"; }));
  server_->Push(kClusterType, "v2", {EdsCluster("a"), EdsCluster("")});  // refused
  ASSERT_TRUE(server_->WaitFor(kClusterType, [](const DiscoveryRequest& r) { return r.has_error_detail(); }));
  server_->Set(kClusterLoadAssignmentType, "e2", {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2")});
  server_->Push(kClusterType, "v3", {EdsCluster("a"), EdsCluster("b")});
  auto ack = server_->WaitFor(kClusterType, [](const DiscoveryRequest& r) { return r.version_info() == "v3"; });
  ASSERT_TRUE(ack.has_value());
  EXPECT_FALSE(ack->has_error_detail());  // the NACK's detail is gone
  EXPECT_EQ(ack->response_nonce(), server_->last_nonce(kClusterType));
  // The endpoints' subscription grew to both names; one endpoint push is ACKed with both.
  ASSERT_TRUE(server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) {
    return r.resource_names_size() == 2;
  }));
  server_->Push(kClusterLoadAssignmentType, "e3", {Assignment("a", "10.0.0.9"), Assignment("b", "10.0.0.2")});
  auto eds_ack = server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) {
    return r.version_info() == "e3";
  });
  ASSERT_TRUE(eds_ack.has_value());
  EXPECT_EQ(eds_ack->resource_names_size(), 2);
  // Only a type's first request names the node.
  std::map<std::string, int> with_node;
  for (const DiscoveryRequest& r : server_->requests()) with_node[r.type_url()] += r.has_node() ? 1 : 0;
  for (const auto& [type, count] : with_node) EXPECT_EQ(count, 1) << type;
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


TEST_F(AdsClientTest, RouteChangesFollowTheListenersRouteNames) {
  StartServer();
  server_->Set(kClusterType, "c1", {});
  server_->Set(kListenerType, "l1", {RdsListener("0.0.0.0_80", "80")});
  server_->Set(kRouteConfigurationType, "r1", {Routes("80"), Routes("9080")});
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.route_configurations.size() == 1; }));
  EXPECT_EQ(snapshot().route_configurations.count("9080"), 0u);  // not subscribed, not taken

  // A new listener names a second route configuration: asked for with the latest RDS nonce (an
  // older one would be dropped as stale by istiod), and delivered by name.
  server_->Push(kListenerType, "l2", {RdsListener("0.0.0.0_80", "80"), RdsListener("0.0.0.0_9080", "9080")});
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.route_configurations.size() == 2; }));
  auto change = server_->WaitFor(kRouteConfigurationType, [](const DiscoveryRequest& r) { return r.resource_names_size() == 2; });
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(server_->lost_subscription_changes(), 0);

  // The listener goes away: its routes are dropped, and the subscription shrinks (never to empty).
  server_->Push(kListenerType, "l3", {RdsListener("0.0.0.0_9080", "9080")});
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.route_configurations.size() == 1 && s.route_configurations.count("9080") == 1;
  }));
  server_->Push(kListenerType, "l4", {});
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.route_configurations.empty(); }));
  for (const DiscoveryRequest& r : server_->requests()) {
    if (r.type_url() == kRouteConfigurationType) {
      EXPECT_GT(r.resource_names_size(), 0) << r.DebugString();
    }
  }
}

TEST_F(AdsClientTest, BackToBackPushesConvergeDespiteStaleAcks) {
  StartServer();
  ServeOneCluster();
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  server_->Set(kClusterLoadAssignmentType, "e2",
               {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2"), Assignment("c", "10.0.0.3")});
  // Two pushes before the client can answer the first: its ACK of v2 reaches the server after v3
  // went out, so istiod-like handling ignores it; the client must still converge on v3.
  server_->Push(kClusterType, "v2", {EdsCluster("a"), EdsCluster("b")});
  server_->Push(kClusterType, "v3", {EdsCluster("a"), EdsCluster("b"), EdsCluster("c")});
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 3 && s.cluster_load_assignments.size() == 3;
  }));
  const std::string last_nonce = server_->last_nonce(kClusterType);
  auto ack = server_->WaitFor(kClusterType, [&](const DiscoveryRequest& r) {
    return r.version_info() == "v3" && r.response_nonce() == last_nonce;
  });
  EXPECT_TRUE(ack.has_value());
  EXPECT_EQ(FirstAddress(snapshot_, "c"), "10.0.0.3");
  // A name change can race an EDS push and be dropped as stale here; SotW recovers because the
  // ACK of that push carries the whole current name set, which is what the convergence shows.
}

TEST_F(AdsClientTest, NothingIsPublishedOrReadyUntilTheFirstRoundIsComplete) {
  StartServer();
  server_->Set(kClusterType, "c1", {EdsCluster("a")});
  server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("a", "10.0.0.1")});
  server_->Set(kListenerType, "l1", {RdsListener("0.0.0.0_80", "80")});
  server_->Set(kRouteConfigurationType, "r1", {Routes("80")});
  server_->Withhold(kRouteConfigurationType, "80");
  StartClient();
  ASSERT_TRUE(server_->WaitFor(kRouteConfigurationType, [](const DiscoveryRequest& r) { return r.resource_names_size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(client_->ready());  // the listener's routes are still missing
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(updates_, 0);  // warming: no half configuration reaches APISIX
  }
  server_->Release(kRouteConfigurationType, "80");
  ASSERT_TRUE(WaitReady());
  EXPECT_TRUE(client_->ready());
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 1 && s.cluster_load_assignments.size() == 1 && s.listeners.size() == 1 &&
           s.route_configurations.size() == 1;
  }));
  EXPECT_EQ(ready_calls(), 1);
}

TEST_F(AdsClientTest, ANewClusterWaitsForItsEndpoints) {
  StartServer();
  ServeOneCluster();
  StartClient();
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  server_->Withhold(kClusterLoadAssignmentType, "b");
  server_->Set(kClusterLoadAssignmentType, "e2", {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2")});
  int updates_before = 0;
  {
    std::lock_guard lock(mutex_);
    updates_before = updates_;
  }
  server_->Push(kClusterType, "v2", {EdsCluster("a"), EdsCluster("b")});
  ASSERT_TRUE(server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) { return r.resource_names_size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(updates_, updates_before);  // cluster b without endpoints is not published
  }
  server_->Release(kClusterLoadAssignmentType, "b");
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 2 && s.cluster_load_assignments.size() == 2;
  }));
}

TEST_F(AdsClientTest, ANeverSentResourceIsTreatedAsAbsentAfterTheTimeout) {
  StartServer();
  server_->Set(kClusterType, "c1", {EdsCluster("a"), EdsCluster("b")});
  server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2")});
  server_->Set(kListenerType, "l1", {});
  server_->Withhold(kClusterLoadAssignmentType, "b");
  AdsClientOptions options;
  options.absent_after = std::chrono::milliseconds(300);
  StartClient(options);
  ASSERT_TRUE(server_->WaitFor(kClusterLoadAssignmentType, [](const DiscoveryRequest& r) { return r.resource_names_size() == 2; }));
  EXPECT_FALSE(client_->ready());  // still waiting for b (well within the 300 ms)
  ASSERT_TRUE(WaitReady());        // b given up on: the round is complete without it, and published
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  const ResourceSnapshot published = snapshot();
  EXPECT_EQ(published.cluster_load_assignments.count("b"), 0u);
  EXPECT_EQ(published.clusters.size(), 2u);
  // Delivered later, it is still taken.
  server_->Release(kClusterLoadAssignmentType, "b");
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.count("b") == 1; }));
}

TEST_F(AdsClientTest, AnUnansweredTypeIsGivenUpOnAndTheAgentBecomesReady) {
  StartServer();
  server_->Set(kClusterType, "c1", {EdsCluster("a")});
  server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("a", "10.0.0.1")});
  // No listeners at all: the server never answers the LDS subscription.
  AdsClientOptions options;
  options.absent_after = std::chrono::milliseconds(300);
  StartClient(options);
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return s.cluster_load_assignments.size() == 1; }));
  EXPECT_FALSE(client_->ready());
  ASSERT_TRUE(WaitReady());  // the listener type was given up on by the ticker
}

TEST_F(AdsClientTest, DeltaSubscribesByDifferenceAndAppliesRemovals) {
  StartServer();
  server_->Set(kClusterType, "c1", {EdsCluster("a"), EdsCluster("b")});
  server_->Set(kClusterLoadAssignmentType, "e1", {Assignment("a", "10.0.0.1"), Assignment("b", "10.0.0.2")});
  server_->Set(kListenerType, "l1", {RdsListener("0.0.0.0_80", "80")});
  server_->Set(kRouteConfigurationType, "r1", {Routes("80")});
  AdsClientOptions options;
  options.delta = true;
  StartClient(options);
  ASSERT_TRUE(WaitReady());
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 2 && s.cluster_load_assignments.size() == 2 && s.listeners.size() == 1 &&
           s.route_configurations.size() == 1;
  }));
  EXPECT_TRUE(server_->requests().empty());  // no SotW stream at all
  auto first = server_->WaitForDelta(kClusterType, [](const DeltaDiscoveryRequest& r) { return r.has_node(); });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->resource_names_subscribe_size(), 0);  // wildcard
  EXPECT_FALSE(first->node().id().empty());
  auto eds = server_->WaitForDelta(kClusterLoadAssignmentType, [](const DeltaDiscoveryRequest& r) {
    return r.resource_names_subscribe_size() == 2;
  });
  ASSERT_TRUE(eds.has_value());
  EXPECT_TRUE(eds->response_nonce().empty());  // subscription changes never ride on an ACK
  for (const DeltaDiscoveryRequest& r : server_->delta_requests()) {
    if (!r.response_nonce().empty()) {
      EXPECT_EQ(r.resource_names_subscribe_size() + r.resource_names_unsubscribe_size(), 0) << r.DebugString();
    }
  }

  // Endpoint change, then cluster b removed: removed_resources drops it, and EDS unsubscribes b.
  server_->Push(kClusterLoadAssignmentType, "e2", {Assignment("a", "10.0.0.9"), Assignment("b", "10.0.0.2")});
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) { return FirstAddress(s, "a") == "10.0.0.9"; }));
  server_->Push(kClusterType, "c2", {EdsCluster("a")});
  ASSERT_TRUE(WaitSnapshot([](const ResourceSnapshot& s) {
    return s.clusters.size() == 1 && s.cluster_load_assignments.size() == 1;
  }));
  auto unsubscribe = server_->WaitForDelta(kClusterLoadAssignmentType, [](const DeltaDiscoveryRequest& r) {
    return r.resource_names_unsubscribe_size() == 1 && r.resource_names_unsubscribe(0) == "b";
  });
  EXPECT_TRUE(unsubscribe.has_value());
  EXPECT_EQ(server_->lost_subscription_changes(), 0);

  // A reconnect tells the server what is held: initial_resource_versions, and nothing unchanged is resent.
  const int port = port_;
  StopServer();
  StartServer(port);
  server_->Set(kClusterType, "c2", {EdsCluster("a")});
  server_->Set(kClusterLoadAssignmentType, "e3", {Assignment("a", "10.0.0.9")});
  server_->Set(kListenerType, "l1", {RdsListener("0.0.0.0_80", "80")});
  server_->Set(kRouteConfigurationType, "r1", {Routes("80")});
  auto resume = server_->WaitForDelta(kClusterType, [](const DeltaDiscoveryRequest& r) {
    return r.initial_resource_versions_size() == 1 && r.initial_resource_versions().count("a") == 1;
  });
  ASSERT_TRUE(resume.has_value());
  auto resume_eds = server_->WaitForDelta(kClusterLoadAssignmentType, [](const DeltaDiscoveryRequest& r) {
    return r.resource_names_subscribe_size() == 1 && r.initial_resource_versions().count("a") == 1;
  });
  EXPECT_TRUE(resume_eds.has_value());
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
