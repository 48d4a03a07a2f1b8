// The hand-written Range and Watch JSON must be byte for byte protobuf's printer (with the
// gateway's options) — checked over many generated messages, zero values, negatives and binary
// bytes included.
#include "etcd/gateway_json_fast.h"

#include <random>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace agent::etcd {
namespace {

std::string Printer(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out, options).ok());
  return out;
}

class Generator {
 public:
  int64_t Int() {
    switch (random_() % 4) {
      case 0: return 0;
      case 1: return -static_cast<int64_t>(random_() % 1000);
      case 2: return static_cast<int64_t>(random_());
      default: return static_cast<int64_t>(random_() % 100);
    }
  }
  std::string Bytes() {
    std::string out(random_() % 5 == 0 ? 0 : random_() % 700, '\0');
    for (char& c : out) c = static_cast<char>(random_() % 256);
    return out;
  }
  bool Bool() { return random_() % 2 == 0; }
  void Fill(mvccpb::KeyValue& kv) {
    kv.set_key(Bytes());
    kv.set_create_revision(Int());
    kv.set_mod_revision(Int());
    kv.set_version(Int());
    kv.set_value(Bytes());
    kv.set_lease(Int());
  }
  void Fill(etcdserverpb::ResponseHeader& h) {
    h.set_cluster_id(static_cast<uint64_t>(Int()));
    h.set_member_id(random_() % 3 == 0 ? 0 : ~0ULL - random_() % 10);
    h.set_revision(Int());
    h.set_raft_term(static_cast<uint64_t>(random_() % 3));
  }
  std::mt19937_64 random_{20261129};
};

TEST(GatewayJsonFastTest, RangeResponsesAreThePrintersBytes) {
  Generator g;
  for (int i = 0; i < 500; ++i) {
    etcdserverpb::RangeResponse response;
    if (g.Bool()) g.Fill(*response.mutable_header());
    const int kvs = static_cast<int>(g.random_() % 4);
    for (int k = 0; k < kvs; ++k) g.Fill(*response.add_kvs());
    response.set_more(g.Bool());
    response.set_count(g.Int());
    ASSERT_EQ(RangeResponseJson(response), Printer(response)) << response.DebugString();
  }
}

TEST(GatewayJsonFastTest, WatchResponsesAreThePrintersBytes) {
  Generator g;
  for (int i = 0; i < 500; ++i) {
    etcdserverpb::WatchResponse response;
    if (g.Bool()) g.Fill(*response.mutable_header());
    response.set_watch_id(g.Int());
    response.set_created(g.Bool());
    response.set_canceled(g.Bool());
    response.set_compact_revision(g.Int());
    response.set_fragment(g.Bool());
    const int events = static_cast<int>(g.random_() % 4);
    for (int e = 0; e < events; ++e) {
      auto* event = response.add_events();
      event->set_type(g.Bool() ? mvccpb::Event::PUT : mvccpb::Event::DELETE);
      if (g.Bool()) g.Fill(*event->mutable_kv());
      if (g.Bool()) g.Fill(*event->mutable_prev_kv());
    }
    auto fast = WatchResponseJson(response);
    ASSERT_TRUE(fast.has_value());
    ASSERT_EQ(*fast, Printer(response)) << response.DebugString();
  }
  etcdserverpb::WatchResponse canceled;
  canceled.set_cancel_reason("mvcc: \"required revision\" has been compacted");
  EXPECT_FALSE(WatchResponseJson(canceled).has_value());  // escaping is left to the printer
}

}  // namespace
}  // namespace agent::etcd
