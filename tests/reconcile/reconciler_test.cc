// The reconciler beside the etcd API, as the sidecar wires them: xDS applies and client writes
// run on different threads against one store.
#include "reconcile/reconciler.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "etcd/etcd_api.h"
#include "xds/file_set.h"

namespace agent::reconcile {
namespace {

xds::ResourceSnapshot Examples() {
  xds::FileSet set;
  for (const char* file : {"listeners.json", "routes.json", "clusters.json", "endpoints.json"}) {
    bool changed = false;
    EXPECT_TRUE(set.Load(std::string(AGENT_EXAMPLES_DIR) + "/xds/" + file, &changed).ok()) << file;
  }
  return set.snapshot();
}

// Found by the hour-long soak: an xDS apply held the reconciler's lock across its store commit
// while a client put held the store's write lock and asked the reconciler whether it owns the
// key — each waited for the other, and the agent froze (writes, applies, SIGTERM). Applies and
// client writes now run side by side; a watchdog turns a deadlock into a failure.
TEST(ReconcilerTest, ClientWritesAndXdsAppliesNeverDeadlock) {
  store::KvStore store;
  Reconciler reconciler(store, apisix::KeyLayout("/apisix", apisix::VersionLine::k3x));
  reconciler.Initialize();
  etcd::EtcdApiOptions options;
  options.guard = [&reconciler](const std::string& key) {
    return reconciler.Owns(key) ? absl::FailedPreconditionError("owned") : absl::OkStatus();
  };
  etcd::EtcdApi api(store, etcd::ClusterIdentity::ForClientUrl("http://127.0.0.1:2379"), options);

  xds::ResourceSnapshot a = Examples(), b = Examples();
  ASSERT_FALSE(b.cluster_load_assignments.empty());
  auto cla = b.cluster_load_assignments.begin()->second.Unpack();
  ASSERT_GT(cla.endpoints_size(), 0);
  cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()
      ->set_port_value(4242);
  b.cluster_load_assignments.begin()->second = cla;

  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 300 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done) {
      std::fprintf(stderr, "deadlock: xDS applies and client writes stopped making progress\n");
      std::abort();
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < 3000; ++i) {
      etcdserverpb::PutRequest put;
      put.set_key("/client/" + std::to_string(i % 50));
      put.set_value("v");
      EXPECT_TRUE(api.Put(put).ok());
    }
  });
  for (int i = 0; i < 300; ++i) reconciler.Apply(i % 2 == 0 ? a : b);
  writer.join();
  done = true;
  watchdog.join();

  // Ownership still holds: a translated key is refused, a client key is not.
  etcdserverpb::RangeRequest range;
  range.set_key("/apisix/upstreams/");
  range.set_range_end("/apisix/upstreams0");
  auto upstreams = api.Range(range);
  ASSERT_TRUE(upstreams.ok());
  ASSERT_GT(upstreams->kvs_size(), 1);  // the directory placeholder, then the translated upstreams
  etcdserverpb::PutRequest overwrite;
  overwrite.set_key(upstreams->kvs(1).key());
  overwrite.set_value("{}");
  EXPECT_FALSE(api.Put(overwrite).ok());
  EXPECT_FALSE(reconciler.Owns("/client/1"));
}

}  // namespace
}  // namespace agent::reconcile

namespace agent::reconcile {
namespace {

// The mesh front: stream routes are served under <prefix>/stream_routes/ in the same commit as
// their upstreams, and the front's table reaches its sink once per change — after the commit that
// serves what it names — not on every update.
TEST(ReconcilerTest, StreamRoutesAreServedAndTheFrontTableHandedOverOnChange) {
  store::KvStore store;
  translate::TranslateOptions options;
  options.original_dst_var = "original_dst";
  options.bind_direction = true;
  options.mesh_front = true;
  std::vector<std::pair<std::string, int64_t>> tables;  // the table, and the revision served when it came
  Reconciler reconciler(store, apisix::KeyLayout("/apisix", apisix::VersionLine::k3x), options,
                        [&](const std::string& table) { tables.emplace_back(table, store.current_revision()); });
  reconciler.Initialize();
  xds::FileSet set;
  bool changed = false;
  ASSERT_TRUE(set.Load(std::string(AGENT_TESTDATA_DIR) + "/../tcp_mesh/xds/listeners.json", &changed).ok());
  ASSERT_TRUE(set.Load(std::string(AGENT_TESTDATA_DIR) + "/../tcp_mesh/xds/clusters.json", &changed).ok());
  ASSERT_TRUE(set.Load(std::string(AGENT_TESTDATA_DIR) + "/../tcp_mesh/xds/routes.json", &changed).ok());
  const ApplyStats first = reconciler.Apply(set.snapshot());
  // 10.96.0.7:7000, the split on 10.96.0.8:7000, 0.0.0.0_3306 (its IPv4 and IPv6 routes), 9000, 3307.
  EXPECT_EQ(first.stream_routes, 6u);
  store::RangeQuery query;
  query.range = store::KeyRange::Prefix("/apisix/stream_routes/");
  const auto served = store.Range(query);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->kvs.size(), first.stream_routes + 1);  // and the directory placeholder APISIX needs
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].second, first.revision);
  EXPECT_NE(tables[0].first.find("outbound 10.96.0.7:7000 tcp\n"), std::string::npos) << tables[0].first;
  reconciler.Apply(set.snapshot());  // nothing changed: no new table
  EXPECT_EQ(tables.size(), 1u);
}

// The etcd sink follows the agent's store through the commit observer: one call per commit that
// changed something, in order, with the store's revision and exactly the events the store made at
// it (the values the store's own bytes, not copies); nothing for an apply that changed nothing.
TEST(ReconcilerTest, TheCommitObserverSeesEachCommitAsTheStoreMadeIt) {
  store::KvStore store;
  Reconciler reconciler(store, apisix::KeyLayout("/apisix", apisix::VersionLine::k3x));
  reconciler.Initialize();
  struct Seen {
    int64_t revision;
    std::vector<store::Mutation> mutations;
  };
  std::vector<Seen> seen;
  reconciler.SetCommitObserver([&seen](int64_t revision, const std::vector<store::Mutation>& mutations) {
    seen.push_back({revision, mutations});
  });
  auto expect_as_stored = [&store](const Seen& commit) {
    const store::WatchRead read = store.ReadEvents(store::KeyRange::Prefix("/apisix/"), commit.revision, 1);
    ASSERT_EQ(read.revisions.size(), 1u);
    ASSERT_EQ(read.revisions[0]->revision, commit.revision);
    const std::vector<store::Event>& events = read.revisions[0]->events;
    ASSERT_EQ(events.size(), commit.mutations.size());
    for (size_t i = 0; i < events.size(); ++i) {
      const store::Mutation& m = commit.mutations[i];
      EXPECT_EQ(events[i].kv.key, m.key);
      EXPECT_EQ(events[i].type == store::Event::Type::kPut, m.kind == store::Mutation::Kind::kPut) << m.key;
      if (m.kind == store::Mutation::Kind::kPut) {
        EXPECT_TRUE(events[i].kv.value.SharesWith(m.value)) << m.key;
      }
    }
  };

  xds::ResourceSnapshot a = Examples();
  const ApplyStats first = reconciler.Apply(a);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].revision, first.revision);
  EXPECT_EQ(seen[0].revision, store.current_revision());
  EXPECT_EQ(seen[0].mutations.size(), first.puts);
  expect_as_stored(seen[0]);

  reconciler.Apply(a);  // nothing changed: no commit, no call
  EXPECT_EQ(seen.size(), 1u);

  auto cla = a.cluster_load_assignments.begin()->second.Unpack();
  cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()
      ->set_port_value(4242);
  a.cluster_load_assignments.begin()->second = cla;
  const ApplyStats moved = reconciler.Apply(a);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].revision, moved.revision);
  ASSERT_EQ(seen[1].mutations.size(), 1u);  // the one upstream
  EXPECT_NE(seen[1].mutations[0].key.find("/apisix/upstreams/"), std::string::npos);
  EXPECT_NE(seen[1].mutations[0].value.str().find("4242"), std::string::npos);
  expect_as_stored(seen[1]);

  const ApplyStats emptied = reconciler.Apply(xds::ResourceSnapshot{});
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].revision, emptied.revision);
  EXPECT_EQ(seen[2].mutations.size(), first.puts);  // every object the first commit wrote, deleted
  for (const store::Mutation& m : seen[2].mutations) EXPECT_EQ(m.kind, store::Mutation::Kind::kDelete) << m.key;
  expect_as_stored(seen[2]);
}

// /config_dump names each object's xDS source. A route's or upstream's desc says it in the value
// itself, so the reconciler keeps a source only where the value cannot: a desc APISIX's length
// limit cut, and stream routes (no desc in their schema) — not a second copy for every key.
TEST(ReconcilerTest, SourcesAreKeptOnlyWhereTheValueCannotSayThem) {
  store::KvStore store;
  Reconciler reconciler(store, apisix::KeyLayout("/apisix", apisix::VersionLine::k3x));
  reconciler.Initialize();
  xds::ResourceSnapshot snapshot = Examples();
  const std::string long_name = "outbound|80||" + std::string(300, 'a') + ".svc.cluster.local";
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name(long_name);
  cluster.set_type(envoy::config::cluster::v3::Cluster::STATIC);
  snapshot.clusters[long_name] = cluster;
  const ApplyStats stats = reconciler.Apply(snapshot);
  ASSERT_GT(stats.upstreams, 1u);
  const std::map<std::string, std::string> sources = reconciler.Sources();
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources.begin()->second, "xds cluster " + long_name);
  store::RangeQuery query;
  query.range = store::KeyRange::Prefix(sources.begin()->first);
  const auto served = store.Range(query);
  ASSERT_TRUE(served.ok() && served->kvs.size() == 1u);
  EXPECT_NE(served->kvs[0].value.str().find("\"desc\":\"xds cluster outbound|80||aaa"), std::string::npos);
}

}  // namespace
}  // namespace agent::reconcile
