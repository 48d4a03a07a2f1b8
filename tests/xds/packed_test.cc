// A resource held as wire bytes: equal messages pack to equal bytes (the translator's cache keys
// on them), copies share the bytes, and what a control plane sent is kept as sent.
#include "xds/packed.h"

#include <thread>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"

namespace agent::xds {
namespace {

using envoy::config::cluster::v3::Cluster;

Cluster FromJson(const std::string& json) {
  Cluster cluster;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &cluster).ok()) << json;
  return cluster;
}

TEST(PackedTest, EqualMessagesPackToEqualBytesWhateverTheirMapsOrder) {
  // Map fields (metadata here) have no order on the wire unless serialization is deterministic.
  std::string a_keys, b_keys;
  for (int i = 0; i < 50; ++i) {
    a_keys += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":{}");
    b_keys += (i ? "," : "") + ("\"k" + std::to_string(49 - i) + "\":{}");
  }
  const Cluster a = FromJson(R"({"name":"c","metadata":{"filterMetadata":{)" + a_keys + "}}}");
  const Cluster b = FromJson(R"({"name":"c","metadata":{"filterMetadata":{)" + b_keys + "}}}");
  ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a, b));
  EXPECT_EQ(Packed<Cluster>(a).bytes(), Packed<Cluster>(b).bytes());
  EXPECT_EQ(Packed<Cluster>(a).hash(), Packed<Cluster>(b).hash());
  EXPECT_TRUE(Packed<Cluster>(a) == Packed<Cluster>(b));
  EXPECT_FALSE(Packed<Cluster>(a) == Packed<Cluster>(FromJson(R"({"name":"d"})")));
}

TEST(PackedTest, UnpackGivesTheMessageBackAndCopiesShareTheBytes) {
  const Cluster cluster = FromJson(R"({"name":"c","type":"EDS","edsClusterConfig":{"serviceName":"svc"}})");
  const Packed<Cluster> packed(cluster);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(packed.Unpack(), cluster));
  const Packed<Cluster> copy = packed;  // NOLINT(performance-unnecessary-copy-initialization): the point
  EXPECT_EQ(&copy.bytes(), &packed.bytes());
  EXPECT_EQ(packed.size(), cluster.ByteSizeLong());
}

// The translator reads resources through Unpacked (on an arena): it must read exactly what
// Unpack() does, small and large (a RouteConfiguration of thousands of hosts outgrows the first
// block), and the empty message.
TEST(PackedTest, UnpackedOnAnArenaReadsAsUnpackDoes) {
  const Cluster small = FromJson(R"({"name":"c","type":"EDS","edsClusterConfig":{"serviceName":"svc"}})");
  const Packed<Cluster> packed(small);
  const Unpacked<Cluster> on_arena(packed);
  EXPECT_NE(on_arena->GetArena(), nullptr);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*on_arena, packed.Unpack()));

  envoy::config::route::v3::RouteConfiguration large;
  large.set_name("80");
  for (int i = 0; i < 5000; ++i) {
    auto* vhost = large.add_virtual_hosts();
    vhost->set_name("svc-" + std::to_string(i));
    vhost->add_domains("svc-" + std::to_string(i) + ".ns.svc.cluster.local");
    vhost->add_routes()->mutable_route()->set_cluster("outbound|80||svc-" + std::to_string(i));
  }
  const Packed<envoy::config::route::v3::RouteConfiguration> packed_large(large);
  ASSERT_GT(packed_large.size(), 256u * 1024);  // past the largest block
  const Unpacked<envoy::config::route::v3::RouteConfiguration> large_on_arena(packed_large);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*large_on_arena, large));

  const Unpacked<Cluster> empty{Packed<Cluster>()};
  EXPECT_EQ(empty->ByteSizeLong(), 0u);
}

// Each thread keeps a few blocks for arenas' first blocks: a nested decode takes the next, past
// them there is none (the arena allocates its own, and reads the same), a block given back is
// taken again, and another thread has blocks of its own.
TEST(PackedTest, ArenaScratchBlocksArePerThreadNestedAndReused) {
  const Packed<Cluster> packed(FromJson(R"({"name":"c","type":"EDS","edsClusterConfig":{"serviceName":"svc"}})"));
  char* first = nullptr;
  {
    ArenaScratch a, b, c, none;
    ASSERT_NE(a.block(), nullptr);
    ASSERT_NE(b.block(), nullptr);
    ASSERT_NE(c.block(), nullptr);
    EXPECT_TRUE(a.block() != b.block() && b.block() != c.block() && a.block() != c.block());
    EXPECT_EQ(none.block(), nullptr);
    first = a.block();
    char* other = nullptr;
    std::thread([&] {
      ArenaScratch mine;
      other = mine.block();
    }).join();
    EXPECT_NE(other, nullptr);
    EXPECT_TRUE(other != a.block() && other != b.block() && other != c.block());
    const Unpacked<Cluster> without_scratch(packed);  // every block taken
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*without_scratch, packed.Unpack()));
  }
  ArenaScratch again;
  EXPECT_EQ(again.block(), first);
  const Unpacked<Cluster> with_scratch(packed);  // the next block, reused
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*with_scratch, packed.Unpack()));
}

TEST(PackedTest, BytesAsReceivedAreKeptAsReceivedAndTheEmptyMessageIsEmpty) {
  const std::string sent = FromJson(R"({"name":"c","type":"STATIC"})").SerializeAsString();
  const auto packed = Packed<Cluster>::FromBytes(sent);
  EXPECT_EQ(packed.bytes(), sent);
  EXPECT_EQ(packed.Unpack().name(), "c");
  const Packed<Cluster> empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.Unpack().name(), "");
  EXPECT_TRUE(empty == Packed<Cluster>(Cluster()));
}

// The file path reads names off the bytes instead of decoding each resource: field 1 must be the
// name of every type it holds, and the read must agree with a decode.
TEST(PackedTest, TheNameReadOffTheBytesIsTheDecodedName) {
  EXPECT_EQ(envoy::config::listener::v3::Listener::descriptor()->FindFieldByNumber(1)->name(), "name");
  EXPECT_EQ(envoy::config::route::v3::RouteConfiguration::descriptor()->FindFieldByNumber(1)->name(), "name");
  EXPECT_EQ(Cluster::descriptor()->FindFieldByNumber(1)->name(), "name");
  EXPECT_EQ(envoy::config::endpoint::v3::ClusterLoadAssignment::descriptor()->FindFieldByNumber(1)->name(),
            "cluster_name");

  // Fields before and after the name, nested messages with their own field 1 (names too).
  const Cluster cluster = FromJson(R"({"type":"EDS","edsClusterConfig":{"serviceName":"svc"},"name":"outbound|80||a",
      "loadAssignment":{"clusterName":"inner","endpoints":[{"lbEndpoints":[{"endpoint":{"address":{"socketAddress":
      {"address":"10.0.0.1","portValue":80}}}}]}]},"metadata":{"filterMetadata":{"istio":{"config":"x"}}}})");
  const std::string bytes = cluster.SerializeAsString();
  EXPECT_EQ(WireStringField(bytes, 1), std::optional<std::string>("outbound|80||a"));
  EXPECT_EQ(WireStringField(Cluster().SerializeAsString(), 1), std::optional<std::string>(""));
  // A later occurrence wins, as it does in a decode.
  const std::string twice = bytes + FromJson(R"({"name":"later"})").SerializeAsString();
  Cluster decoded;
  ASSERT_TRUE(decoded.ParseFromString(twice));
  EXPECT_EQ(WireStringField(twice, 1), std::optional<std::string>(decoded.name()));
  // Not a message: cut short, or a field with an invalid wire type.
  EXPECT_EQ(WireStringField(bytes.substr(0, bytes.size() - 3), 1), std::nullopt);
  EXPECT_EQ(WireStringField(std::string("\x0f\x01", 2), 1), std::nullopt);
}

}  // namespace
}  // namespace agent::xds
