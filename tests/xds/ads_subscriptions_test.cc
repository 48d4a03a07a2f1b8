// The ADS client's protocol-independent state: full-state versus by-name types, the names the
// named types follow, the absent-resource rule and the first complete round.
#include "xds/ads_subscriptions.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace agent::xds {
namespace {

using Clock = AdsSubscriptions::Clock;
using google::protobuf::Any;
using google::protobuf::RepeatedPtrField;

template <typename Message>
Any Pack(const std::string& json) {
  Message m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json;
  Any any;
  any.PackFrom(m);
  return any;
}
Any Cluster(const std::string& name) {
  return Pack<envoy::config::cluster::v3::Cluster>(R"({"name":")" + name + R"(","type":"EDS"})");
}
Any Assignment(const std::string& name) {
  return Pack<envoy::config::endpoint::v3::ClusterLoadAssignment>(R"({"clusterName":")" + name + R"("})");
}
RepeatedPtrField<Any> List(std::vector<Any> items) { return RepeatedPtrField<Any>(items.begin(), items.end()); }

TEST(AdsSubscriptionsTest, ClustersAreFullStateAssignmentsByName) {
  AdsSubscriptions state;
  const auto t0 = Clock::now();
  EXPECT_TRUE(state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), Cluster("b")})).empty());
  EXPECT_EQ(state.RefreshNames(t0), std::vector<std::string>{kClusterLoadAssignmentType});
  EXPECT_EQ(state.names(kClusterLoadAssignmentType), (std::set<std::string>{"a", "b"}));
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({Assignment("a"), Assignment("b"), Assignment("zzz")}));
  EXPECT_EQ(state.snapshot().cluster_load_assignments.size(), 2u);  // zzz was not asked for
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({Assignment("a")}));  // partial push: b stays
  EXPECT_EQ(state.snapshot().cluster_load_assignments.size(), 2u);
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a")}));  // complete state: b is gone
  EXPECT_EQ(state.RefreshNames(t0).size(), 1u);
  EXPECT_EQ(state.snapshot().clusters.size(), 1u);
  EXPECT_EQ(state.snapshot().cluster_load_assignments.count("b"), 0u);  // dropped with its cluster
  EXPECT_TRUE(state.RefreshNames(t0).empty());                          // unchanged names: nothing to send
}

// The named types' names follow what each held cluster asks for as it changes, not what it first
// asked for (they are kept per cluster rather than read again from every held cluster).
TEST(AdsSubscriptionsTest, TheNamesFollowWhatEachHeldClusterAsksForNow) {
  AdsSubscriptions state;
  const auto t0 = Clock::now();
  auto eds = [](const std::string& name, const std::string& service) {
    return Pack<envoy::config::cluster::v3::Cluster>(R"({"name":")" + name +
                                                     R"(","type":"EDS","edsClusterConfig":{"serviceName":")" + service +
                                                     R"("}})");
  };
  auto static_cluster = [](const std::string& name) {
    return Pack<envoy::config::cluster::v3::Cluster>(R"({"name":")" + name + R"(","type":"STATIC"})");
  };
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), eds("b", "svc-b")}));
  state.RefreshNames(t0);
  EXPECT_EQ(state.names(kClusterLoadAssignmentType), (std::set<std::string>{"a", "svc-b"}));
  state.ApplyStateOfTheWorld(kClusterType, List({static_cluster("a"), eds("b", "svc-b2")}));
  state.RefreshNames(t0);
  EXPECT_EQ(state.names(kClusterLoadAssignmentType), (std::set<std::string>{"svc-b2"}));

  AdsSubscriptions delta;
  RepeatedPtrField<envoy::service::discovery::v3::Resource> resources;
  for (const auto& [name, any] : {std::pair<std::string, Any>{"a", Cluster("a")}, {"b", eds("b", "svc-b")}}) {
    auto* r = resources.Add();
    r->set_name(name);
    *r->mutable_resource() = any;
  }
  delta.ApplyDelta(kClusterType, resources, {});
  delta.RefreshNames(t0);
  EXPECT_EQ(delta.names(kClusterLoadAssignmentType), (std::set<std::string>{"a", "svc-b"}));
  RepeatedPtrField<std::string> removed;
  removed.Add("b");
  delta.ApplyDelta(kClusterType, {}, removed);
  delta.RefreshNames(t0);
  EXPECT_EQ(delta.names(kClusterLoadAssignmentType), (std::set<std::string>{"a"}));
}

TEST(AdsSubscriptionsTest, BadResourcesAreNamedAndTheRestApplies) {
  AdsSubscriptions state;
  Any wrong = Assignment("x");
  auto errors = state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), wrong, Cluster("")}));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("resources[1] has type type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"),
            std::string::npos);
  EXPECT_EQ(errors[1], "resources[2] has no name");
  EXPECT_EQ(state.snapshot().clusters.count("a"), 1u);
}

TEST(AdsSubscriptionsTest, DeltaUpsertsRemovesAndKeepsVersions) {
  AdsSubscriptions state;
  RepeatedPtrField<envoy::service::discovery::v3::Resource> resources;
  auto* r = resources.Add();
  r->set_name("a");
  r->set_version("1");
  *r->mutable_resource() = Cluster("a");
  r = resources.Add();
  r->set_name("b");
  r->set_version("7");
  *r->mutable_resource() = Cluster("other");  // the name does not match its content
  EXPECT_EQ(state.ApplyDelta(kClusterType, resources, {}).size(), 1u);
  EXPECT_EQ(state.ResourceVersions(kClusterType), (std::map<std::string, std::string>{{"a", "1"}}));
  ASSERT_NE(state.UpdateOf(kClusterType, "a"), nullptr);
  EXPECT_EQ(*state.UpdateOf(kClusterType, "a")->version, "1");  // the resource's own version
  EXPECT_EQ(state.UpdateOf(kClusterType, "b"), nullptr);        // rejected: not held
  RepeatedPtrField<std::string> removed;
  removed.Add("a");
  state.ApplyDelta(kClusterType, {}, removed);
  EXPECT_TRUE(state.snapshot().clusters.empty());
  EXPECT_TRUE(state.ResourceVersions(kClusterType).empty());
  EXPECT_EQ(state.UpdateOf(kClusterType, "a"), nullptr);
}

// /config_dump's per-resource version and time (Envoy's version_info and last_updated): those of
// the SotW response that last changed the resource, not of the type's latest response.
TEST(AdsSubscriptionsTest, EachResourceKeepsTheVersionAndTimeOfItsLastChange) {
  AdsSubscriptions state;
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), Cluster("b")}), "v1");
  const ResourceUpdate first_a = *state.UpdateOf(kClusterType, "a");
  EXPECT_EQ(*first_a.version, "v1");
  Any changed_b = Pack<envoy::config::cluster::v3::Cluster>(R"({"name":"b","type":"EDS","connectTimeout":"2s"})");
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), changed_b, Cluster("c")}), "v2");
  EXPECT_EQ(*state.UpdateOf(kClusterType, "a")->version, "v1");  // resent unchanged
  EXPECT_EQ(state.UpdateOf(kClusterType, "a")->at, first_a.at);
  EXPECT_EQ(*state.UpdateOf(kClusterType, "b")->version, "v2");
  EXPECT_GE(state.UpdateOf(kClusterType, "b")->at, first_a.at);
  EXPECT_EQ(*state.UpdateOf(kClusterType, "c")->version, "v2");
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a")}), "v3");  // b and c deleted
  EXPECT_EQ(state.UpdateOf(kClusterType, "b"), nullptr);
  EXPECT_EQ(state.UpdateOf(kClusterType, "c"), nullptr);
  // A named type's resource leaves with its name (cluster a's endpoints, when a goes).
  state.RefreshNames(Clock::now());
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({Assignment("a")}), "e1");
  EXPECT_EQ(*state.UpdateOf(kClusterLoadAssignmentType, "a")->version, "e1");
  state.ApplyStateOfTheWorld(kClusterType, {}, "v4");
  state.RefreshNames(Clock::now());
  EXPECT_EQ(state.UpdateOf(kClusterLoadAssignmentType, "a"), nullptr);
}

TEST(AdsSubscriptionsTest, TheFirstRoundCompletesWhenEverythingAskedForIsInOrGivenUp) {
  AdsSubscriptions state;
  const auto t0 = Clock::now();
  state.StartWildcardClocks(t0);
  EXPECT_FALSE(state.InitialRoundComplete());
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), Cluster("b")}));
  state.RefreshNames(t0);
  state.ApplyStateOfTheWorld(kListenerType, {});
  EXPECT_FALSE(state.InitialRoundComplete());  // a and b's endpoints are pending
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({Assignment("a")}));
  EXPECT_FALSE(state.InitialRoundComplete());
  EXPECT_TRUE(state.ExpireOverdue(t0 + std::chrono::seconds(14), std::chrono::seconds(15)).empty());
  auto expired = state.ExpireOverdue(t0 + std::chrono::seconds(15), std::chrono::seconds(15));
  EXPECT_EQ(expired, std::vector<std::string>{std::string(kClusterLoadAssignmentType) + " b"});
  EXPECT_TRUE(state.ExpireOverdue(t0 + std::chrono::seconds(30), std::chrono::seconds(15)).empty());  // once
  EXPECT_TRUE(state.InitialRoundComplete());
}

TEST(AdsSubscriptionsTest, WarmingAndChangeSets) {
  AdsSubscriptions state;
  const auto t0 = Clock::now();
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a"), Cluster("b")}));
  state.RefreshNames(t0);
  EXPECT_TRUE(state.Warming());  // a and b's endpoints are asked for, not here
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({Assignment("a"), Assignment("b")}));
  EXPECT_FALSE(state.Warming());
  SnapshotChanges changes = state.TakeChanges();
  EXPECT_EQ(changes.clusters, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(changes.cluster_load_assignments, (std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(state.TakeChanges().empty());

  // An endpoint push of one assignment, and the same bytes again: one change, then none.
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({Assignment("b")}));
  EXPECT_TRUE(state.TakeChanges().empty());  // unchanged bytes are not a change
  auto moved = Pack<envoy::config::endpoint::v3::ClusterLoadAssignment>(
      R"({"clusterName":"b","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":{"address":"10.0.0.9","portValue":80}}}}]}]})");
  state.ApplyStateOfTheWorld(kClusterLoadAssignmentType, List({moved}));
  changes = state.TakeChanges();
  EXPECT_TRUE(changes.EndpointsOnly());
  EXPECT_EQ(changes.cluster_load_assignments, std::set<std::string>{"b"});

  // A cluster removed: it and its assignment are changes; not endpoints-only.
  state.ApplyStateOfTheWorld(kClusterType, List({Cluster("a")}));
  state.RefreshNames(t0);
  changes = state.TakeChanges();
  EXPECT_FALSE(changes.EndpointsOnly());
  EXPECT_EQ(changes.clusters, std::set<std::string>{"b"});
  EXPECT_EQ(changes.cluster_load_assignments, std::set<std::string>{"b"});
}

TEST(AdsSubscriptionsTest, ANeverAnsweredWildcardTypeIsGivenUpOnToo) {
  AdsSubscriptions state;
  const auto t0 = Clock::now();
  state.StartWildcardClocks(t0);
  state.ApplyStateOfTheWorld(kClusterType, {});
  auto expired = state.ExpireOverdue(t0 + std::chrono::seconds(15), std::chrono::seconds(15));
  EXPECT_EQ(expired, std::vector<std::string>{std::string(kListenerType) + " (any)"});
  EXPECT_TRUE(state.InitialRoundComplete());
}

}  // namespace
}  // namespace agent::xds
