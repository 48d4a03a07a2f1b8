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
  return set.Merge();
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
  auto& cla = b.cluster_load_assignments.begin()->second;
  ASSERT_GT(cla.endpoints_size(), 0);
  cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()
      ->set_port_value(4242);

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
