// The sink against a real etcd (Debian's etcd-server, started here on loopback): it follows every
// commit it is told of, from one thread, while another reads its status (the reconciler and the
// admin endpoint do exactly that), and steps down and comes back when the cluster no longer has
// its election key. Built into the ThreadSanitizer run too. Skipped where etcd is not installed.
#include "sink/etcd_sink.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace agent::sink {
namespace {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

template <typename Pred>
bool Eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class EtcdSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/etcd", X_OK) != 0) GTEST_SKIP() << "etcd is not installed (scripts/setup --test)";
    char dir[] = "/tmp/etcd-sink-test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    const int client = FreePort(), peer = FreePort();
    endpoint_ = "http://127.0.0.1:" + std::to_string(client);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
    etcd_ = fork();
    if (etcd_ == 0) {
      freopen((dir_ + "/etcd.log").c_str(), "w", stderr);
      execl("/usr/bin/etcd", "etcd", "--name", "t", "--data-dir", (dir_ + "/data").c_str(), "--listen-client-urls",
            endpoint_.c_str(), "--advertise-client-urls", endpoint_.c_str(), "--listen-peer-urls", peer_url.c_str(),
            "--initial-advertise-peer-urls", peer_url.c_str(), "--initial-cluster", ("t=" + peer_url).c_str(),
            nullptr);
      _exit(127);
    }
    // The port first: a gRPC channel refused at first backs off for seconds before it tries again.
    ASSERT_TRUE(Eventually([&] {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(client));
      const bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(fd);
      return up;
    })) << "etcd did not listen";
    observer_ = Client();
    etcdserverpb::RangeRequest probe;
    probe.set_key("/");
    ASSERT_TRUE(Eventually([&] { return observer_->Range(probe).ok(); })) << "etcd did not start";
  }
  void TearDown() override {
    if (etcd_ > 0) {
      kill(etcd_, SIGKILL);
      waitpid(etcd_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<EtcdClient> Client() {
    EtcdClientOptions o;
    o.endpoints = {endpoint_};
    o.timeout = std::chrono::milliseconds(2000);
    auto c = EtcdClient::Create(o);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }
  std::map<std::string, std::string> Read(const std::string& prefix) {
    etcdserverpb::RangeRequest r;
    r.set_key(prefix);
    r.set_range_end(prefix.substr(0, prefix.size() - 1) + static_cast<char>(prefix.back() + 1));
    std::map<std::string, std::string> out;
    if (auto got = observer_->Range(r); got.ok()) {
      for (const auto& kv : got->kvs()) out[kv.key()] = kv.value();
    }
    return out;
  }

  std::string dir_;
  std::string endpoint_;
  pid_t etcd_ = -1;
  std::unique_ptr<EtcdClient> observer_;
};

TEST_F(EtcdSinkTest, FollowsEveryCommitWhileReadAndStepsDownWhenItsElectionKeyIsGone) {
  EtcdSinkOptions options;
  options.prefix = "/t";
  options.owner = "test";
  options.identity = "unit/1";
  options.max_txn_ops = 4;  // 3 objects per transaction: most commits below are split
  options.lease_ttl_seconds = 8;
  options.resync_seconds = 1;  // checks due all the time: they must never hold up a resume
  EtcdSink sink(options, Client());
  sink.Start();
  ASSERT_TRUE(Eventually([&] { return sink.GetStatus().role == EtcdSink::Role::kLeader && sink.ready(); }));

  std::atomic<bool> done{false};
  std::thread reader([&] {  // the admin endpoint and the readiness probe, meanwhile
    while (!done) {
      (void)sink.GetStatus();
      (void)sink.NotReadyReason();
      std::this_thread::yield();
    }
  });
  std::map<std::string, std::string> desired;
  for (int64_t revision = 1; revision <= 60; ++revision) {
    std::vector<store::Mutation> m;
    for (int k = 0; k < 5; ++k) {
      const std::string u = "/t/upstreams/u" + std::to_string((revision + k) % 9);
      const std::string value = R"({"id":"u)" + std::to_string((revision + k) % 9) + R"(","v":)" + std::to_string(revision) + "}";
      m.push_back(store::Mutation::Put(u, value));
      desired[u] = value;
    }
    if (revision % 10 == 0) {
      m.push_back(store::Mutation::Delete("/t/upstreams/u" + std::to_string(revision % 9)));
      desired.erase("/t/upstreams/u" + std::to_string(revision % 9));
    }
    sink.OnCommit(revision, m);
  }
  ASSERT_TRUE(Eventually([&] {
    const auto s = sink.GetStatus();
    return s.local_revision == 60 && s.pending == 0 && s.synced;
  })) << sink.NotReadyReason();
  done = true;
  reader.join();

  const auto in_etcd = Read("/t/upstreams/");
  ASSERT_EQ(in_etcd.size(), desired.size());
  for (const auto& [key, value] : desired) {
    ASSERT_TRUE(in_etcd.count(key)) << key;
    auto marked = MarkOwned(value, "test");
    EXPECT_EQ(in_etcd.at(key), *marked) << key;
  }

  // etcd stalls (stopped) while changes arrive: the write times out and its outcome is unknown;
  // once etcd answers, the writer resumes from the marker and writes every change, in order.
  kill(etcd_, SIGSTOP);
  for (int64_t revision = 61; revision <= 63; ++revision) {
    const std::string value = R"({"id":"u0","v":)" + std::to_string(revision) + "}";
    sink.OnCommit(revision, {store::Mutation::Put("/t/upstreams/u0", value)});
    desired["/t/upstreams/u0"] = value;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // past the 2 s request timeout
  kill(etcd_, SIGCONT);
  ASSERT_TRUE(Eventually([&] {
    const auto s = sink.GetStatus();
    return s.local_revision == 63 && s.pending == 0 && s.synced;
  })) << sink.NotReadyReason();
  EXPECT_EQ(Read("/t/upstreams/").at("/t/upstreams/u0"), *MarkOwned(desired["/t/upstreams/u0"], "test"));

  // The cluster forgets the writer's election key (as when its lease expired in a partition):
  // its next transaction is refused, it campaigns again and writes the change.
  const auto keys = Read("/t/mesh-agent/test/election/");
  ASSERT_EQ(keys.size(), 1u);
  etcdserverpb::TxnRequest del;
  del.add_success()->mutable_request_delete_range()->set_key(keys.begin()->first);
  ASSERT_TRUE(observer_->Txn(del).ok());
  sink.OnCommit(64, {store::Mutation::Put("/t/routes/r1", R"({"id":"r1","upstream_id":"u1"})")});
  ASSERT_TRUE(Eventually([&] { return Read("/t/routes/").count("/t/routes/r1") > 0; }));
  const auto after = Read("/t/mesh-agent/test/election/");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after.begin()->first, keys.begin()->first);  // a new session wrote it, not the refused one
  auto marker = DecodeMarker(Read("/t/mesh-agent/test/revision").begin()->second);
  ASSERT_TRUE(marker.has_value());
  EXPECT_EQ(marker->agent, "unit/1");
  EXPECT_EQ(marker->revision, 64);

  sink.Stop();  // revokes its lease: the election key goes at once
  EXPECT_TRUE(Eventually([&] { return Read("/t/mesh-agent/test/election/").empty(); }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace agent::sink
