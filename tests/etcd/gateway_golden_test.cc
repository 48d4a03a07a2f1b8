// Differential test against real etcd 3.4: the same writes that produced the captures in
// testdata/etcd-3.4-golden are replayed into the store, the same requests are sent through the
// gateway router, and the replies must equal etcd's byte for byte (cluster identity set to etcd's).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "etcd/gateway_json.h"
#include "etcd/gateway_router.h"
#include "etcd/watch_stream.h"
#include "nlohmann/json.hpp"

namespace agent::etcd {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(AGENT_TESTDATA_DIR) / "etcd-3.4-golden";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Capture {
  std::string method, path, body;
  int status = 0;
  std::string response;
};

Capture Load(const std::string& name) {
  Capture c;
  std::string request = ReadFile(kGolden / name / "request");
  size_t newline = request.find('\n');
  std::string first = request.substr(0, newline);
  c.method = first.substr(0, first.find(' '));
  c.path = first.substr(first.find(' ') + 1);
  c.body = newline == std::string::npos ? "" : request.substr(newline + 1);
  c.status = std::stoi(ReadFile(kGolden / name / "status"));
  c.response = ReadFile(kGolden / name / "body");
  return c;
}

ClusterIdentity EtcdGoldenIdentity() {
  ClusterIdentity id;
  id.cluster_id = 6777273744116918996ULL;
  id.member_id = 7775807555956265156ULL;
  id.raft_term = 2;
  return id;
}

// Captures 03–07 are puts: revisions 2..6 of a fresh etcd.
void ReplayPuts(store::KvStore& store) {
  for (const char* name : {"03-put-route1", "04-put-prev_kv", "05-put-prev_kv-new", "06-put-upstream1",
                           "07-put-init_dir-apisix-cli"}) {
    auto body = nlohmann::json::parse(Load(name).body);
    std::string key, value;
    ASSERT_TRUE(absl::Base64Unescape(body["key"].get<std::string>(), &key));
    ASSERT_TRUE(absl::Base64Unescape(body["value"].get<std::string>(), &value));
    store.Commit({store::Mutation::Put(key, value)});
  }
}

class RangeGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RangeGoldenTest, ReplyEqualsEtcd) {
  store::KvStore store;
  ReplayPuts(store);
  ASSERT_EQ(store.current_revision(), 6);
  ClusterIdentity identity = EtcdGoldenIdentity();
  Capture capture = Load(GetParam());
  auto reply = HandleUnaryRequest(capture.method, capture.path, capture.body, GatewayContext{store, identity});
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, capture.status);
  if (capture.status == 200) {
    EXPECT_EQ(reply->body, capture.response);
  } else {
    // Error texts come from Go's and protobuf's parsers respectively; the shape and code must agree.
    auto ours = nlohmann::json::parse(reply->body);
    auto theirs = nlohmann::json::parse(capture.response);
    EXPECT_EQ(ours["code"], theirs["code"]);
    EXPECT_TRUE(ours["error"].is_string());
    EXPECT_EQ(ours["error"], ours["message"]);
  }
}

INSTANTIATE_TEST_SUITE_P(Etcd34, RangeGoldenTest,
                         ::testing::Values("08-range-exact", "09-range-prefix", "10-range-lua-resty-etcd-readdir",
                                           "11-range-keys_only", "12-range-count_only", "13-range-limit1",
                                           "14-range-limit-string", "15-range-sort-desc-enum-names",
                                           "16-range-at-revision-2", "17-range-not-found",
                                           "18-range-apisix-phantomkey", "19-range-from-zero-byte-all-keys",
                                           "20-range-empty-body", "48-error-malformed-json"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace_if(name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
                           return name;
                         });

// Capture 59: a prefix watch created at revision 15, then put, update, delete, a two-key put and a
// two-key delete, each its own revision; revision 18 touched a key outside the range.
TEST(WatchGoldenTest, LiveEventsEqualEtcd) {
  store::StoreOptions options;
  options.initial_revision = 14;
  store::KvStore store(options);
  store.Commit({store::Mutation::Put("/apisix/upstreams/1", "u1")});  // 15
  ClusterIdentity identity = EtcdGoldenIdentity();
  WatchStream stream(store, identity, [] {});
  Capture capture = Load("59-watch-prefix-create-put-update-delete");
  etcdserverpb::WatchRequest request;
  ASSERT_TRUE(FromGatewayJson(capture.body, &request).ok());
  stream.Handle(request);

  using store::Mutation;
  store.Commit({Mutation::Put("/apisix/routes/9", R"({"id":"9","uri":"/nine"})")});
  store.Commit({Mutation::Put("/apisix/routes/9", R"({"id":"9","uri":"/nine-v2"})")});
  store.Commit({Mutation::Put("/elsewhere", "x")});
  store.Commit({Mutation::Delete("/apisix/routes/9")});
  store.Commit({Mutation::Put("/apisix/routes/10", R"({"id":"10"})"),
                Mutation::Put("/apisix/upstreams/10", R"({"id":"10"})")});
  store.Commit({Mutation::Delete("/apisix/upstreams/1"), Mutation::Delete("/apisix/upstreams/10")});

  std::string ours;
  while (auto message = stream.Next()) ours += "{\"result\":" + ToGatewayJson(*message) + "}\n";
  EXPECT_EQ(ours, capture.response);
}

}  // namespace
}  // namespace agent::etcd
