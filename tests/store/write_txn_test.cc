#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "store/kv_store.h"
#include "store/revision_seed.h"

namespace agent::store {
namespace {

TEST(WriteTxnTest, ReadsSeeEarlierWritesOfTheSameTransaction) {
  KvStore store;
  auto revision = store.Transact([](WriteTxn& txn) {
    EXPECT_FALSE(txn.Get("/a").has_value());
    EXPECT_TRUE(txn.Put("/a", "1").ok());
    EXPECT_EQ(txn.Get("/a")->value, "1");
    EXPECT_EQ(txn.Range({KeyRange::Prefix("/")}).count, 1);
    return absl::OkStatus();
  });
  ASSERT_TRUE(revision.ok());
  EXPECT_EQ(*revision, 2);
}

TEST(WriteTxnTest, AnErrorRollsEverythingBackAndCreatesNoRevision) {
  KvStore store;
  store.Commit({Mutation::Put("/keep", "v1")});  // 2
  auto lease = store.GrantLease(0, 60);
  ASSERT_TRUE(lease.ok());
  auto result = store.Transact([&](WriteTxn& txn) -> absl::Status {
    EXPECT_TRUE(txn.Put("/keep", "v2", lease->id).ok());
    EXPECT_EQ(txn.DeleteRange(KeyRange::Single("/keep")).size(), 1u);
    EXPECT_TRUE(txn.Put("/new", "x").ok());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store.current_revision(), 2);
  auto range = store.Range({KeyRange::Prefix("/")});
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0], (KeyValue{"/keep", "v1", 2, 2, 1, 0}));
  EXPECT_TRUE(store.GetLease(lease->id)->keys.empty());  // the attachment was rolled back too
  EXPECT_TRUE(store.ReadEvents(KeyRange::Prefix("/"), 3, 10).revisions.empty());
}

TEST(WriteTxnTest, PutWithUnknownLeaseFailsLikeEtcd) {
  KvStore store;
  auto result = store.Transact([](WriteTxn& txn) { return txn.Put("/a", "1", 12345).status(); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(), "etcdserver: requested lease not found");
}

TEST(WriteTxnTest, IgnoreValueAndIgnoreLeaseKeepTheOldOnes) {
  KvStore store;
  auto lease = store.GrantLease(7, 60);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(store.Transact([](WriteTxn& txn) { return txn.Put("/k", "v", 7).status(); }).ok());
  ASSERT_TRUE(store.Transact([](WriteTxn& txn) { return txn.Put("/k", "", 0, /*ignore_value=*/true, /*ignore_lease=*/true).status(); }).ok());
  auto kv = store.Range({KeyRange::Single("/k")})->kvs.at(0);
  EXPECT_EQ(kv.value, "v");
  EXPECT_EQ(kv.lease, 7);
  EXPECT_EQ(kv.version, 2);
  auto missing = store.Transact([](WriteTxn& txn) { return txn.Put("/absent", "", 0, true).status(); });
  EXPECT_EQ(missing.status().message(), "etcdserver: key not found");
}

class FakeClock {
 public:
  std::chrono::steady_clock::time_point now{};
  void Advance(std::chrono::milliseconds d) { now += d; }
};

TEST(LeaseTest, ExpiryDeletesAttachedKeysInOneRevision) {
  FakeClock clock;
  StoreOptions options;
  options.clock = [&] { return clock.now; };
  KvStore store(options);
  auto lease = store.GrantLease(0, 10);
  ASSERT_TRUE(lease.ok());
  EXPECT_GT(lease->id, 0);
  ASSERT_TRUE(store.Transact([&](WriteTxn& txn) -> absl::Status {
    if (auto s = txn.Put("/a", "1", lease->id); !s.ok()) return s.status();
    return txn.Put("/b", "1", lease->id).status();
  }).ok());  // 2
  store.Commit({Mutation::Put("/c", "1")});  // 3

  clock.Advance(std::chrono::seconds(5));
  EXPECT_EQ(store.GetLease(lease->id)->remaining_ttl, 5);
  EXPECT_EQ(store.ExpireLeases(), 0u);
  ASSERT_TRUE(store.RenewLease(lease->id).ok());  // back to 10 s from now
  clock.Advance(std::chrono::seconds(9));
  EXPECT_EQ(store.ExpireLeases(), 0u);
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(store.ExpireLeases(), 1u);

  EXPECT_EQ(store.current_revision(), 4);
  auto read = store.ReadEvents(KeyRange::Prefix("/"), 4, 10);
  ASSERT_EQ(read.revisions.size(), 1u);
  EXPECT_EQ(read.revisions[0]->events.size(), 2u);
  EXPECT_EQ(store.Range({KeyRange::Prefix("/")})->kvs.size(), 1u);
  EXPECT_FALSE(store.GetLease(lease->id).has_value());
  EXPECT_EQ(store.RevokeLease(lease->id).status().code(), absl::StatusCode::kNotFound);
}

TEST(LeaseTest, ClientChosenIdsAndDuplicates) {
  KvStore store;
  EXPECT_EQ(store.GrantLease(42, 5)->id, 42);
  EXPECT_EQ(store.GrantLease(42, 5).status().message(), "etcdserver: lease already exists");
  EXPECT_EQ(store.LeaseIds(), std::vector<int64_t>{42});
}

TEST(LeaseTest, PuttingWithoutLeaseDetachesTheKey) {
  KvStore store;
  ASSERT_TRUE(store.GrantLease(9, 60).ok());
  ASSERT_TRUE(store.Transact([](WriteTxn& txn) { return txn.Put("/k", "v", 9).status(); }).ok());
  EXPECT_EQ(store.GetLease(9)->keys, std::vector<std::string>{"/k"});
  store.Commit({Mutation::Put("/k", "v2")});
  EXPECT_TRUE(store.GetLease(9)->keys.empty());
  ASSERT_TRUE(store.RevokeLease(9).ok());
  EXPECT_EQ(store.Range({KeyRange::Single("/k")})->kvs.size(), 1u);  // no longer the lease's to delete
}

TEST(CompactTest, CompactKeepsTheCompactRevisionItself) {
  KvStore store;
  for (int i = 0; i < 5; ++i) store.Commit({Mutation::Put("/k", std::to_string(i))});  // 2..6
  ASSERT_TRUE(store.Compact(4).ok());
  EXPECT_EQ(store.compacted_revision(), 4);
  EXPECT_EQ(store.ReadEvents(KeyRange::Single("/k"), 3, 10).compact_revision, 4);
  EXPECT_EQ(store.ReadEvents(KeyRange::Single("/k"), 4, 10).revisions.size(), 3u);
  EXPECT_EQ(store.Compact(4).message(), "etcdserver: mvcc: required revision has been compacted");
  EXPECT_EQ(store.Compact(7).message(), "etcdserver: mvcc: required revision is a future revision");
}

// Issue 12, probe 8: history was bounded by counts only; 300 values of 750 KB pinned ~450 MB.
TEST(KvStoreTest, HistoryIsBoundedByBytesToo) {
  StoreOptions options;
  options.max_history_bytes = 4 * 1024 * 1024;
  KvStore store(options);
  const std::string big(750 * 1024, 'v');
  for (int i = 0; i < 30; ++i) store.Commit({Mutation::Put("/big/" + std::to_string(i), big)});
  for (int i = 0; i < 30; ++i) store.Commit({Mutation::Delete("/big/" + std::to_string(i))});  // prev_kv: 750 KB each
  const int64_t current = store.current_revision();
  // Only the newest revisions within 4 MB remain watchable; older ones answer as compacted.
  EXPECT_GT(store.compacted_revision(), current - 10);
  EXPECT_GT(store.ReadEvents(KeyRange::Prefix("/big/"), 2, 100).compact_revision, 0);
  auto recent = store.ReadEvents(KeyRange::Prefix("/big/"), store.compacted_revision(), 100);
  EXPECT_EQ(recent.compact_revision, 0);
  EXPECT_LE(recent.revisions.size(), 6u);
  // One revision larger than the bound is still kept: the newest is always watchable.
  store.Commit({Mutation::Put("/huge", std::string(5 * 1024 * 1024, 'h'))});
  EXPECT_EQ(store.compacted_revision(), store.current_revision());
}

TEST(RevisionSeedTest, NeverGoesBackwards) {
  std::string file = ::testing::TempDir() + "/revision_seed_test";
  std::remove(file.c_str());
  EXPECT_EQ(*InitialRevision("", 1000), 1000);
  EXPECT_EQ(*InitialRevision(file, 1000), 1000);  // no file yet
  ASSERT_TRUE(SaveRevision(file, 5000).ok());
  EXPECT_EQ(*InitialRevision(file, 1000), 5001);  // the clock went back, or many writes happened
  EXPECT_EQ(*InitialRevision(file, 9000), 9000);
  ASSERT_TRUE(SaveRevision(file, -1).ok());
  EXPECT_FALSE(InitialRevision(file, 1000).ok());
}

// A state file that is there but cannot be read is an error naming it, not a fresh start (which
// would hand out the revisions it reserved again once the clock is behind them).
TEST(RevisionSeedTest, AStateFileThatCannotBeReadIsAnErrorNotAFreshStart) {
  const std::string loop = ::testing::TempDir() + "/revision_seed_loop";
  std::remove(loop.c_str());
  ASSERT_EQ(::symlink(loop.c_str(), loop.c_str()), 0);  // a link to itself: ELOOP on open
  absl::StatusOr<int64_t> initial = InitialRevision(loop, 1000);
  ASSERT_FALSE(initial.ok());
  EXPECT_NE(initial.status().message().find(loop + ": cannot open: Too many levels of symbolic links"),
            absl::string_view::npos)
      << initial.status();
  std::remove(loop.c_str());
  initial = InitialRevision(::testing::TempDir(), 1000);  // a directory
  ASSERT_FALSE(initial.ok());
  EXPECT_NE(initial.status().message().find("Is a directory"), absl::string_view::npos) << initial.status();
}

// Issue 12, probe 7: the file was written only at a clean exit, so after a kill -9 revisions
// that ran ahead of the clock were used again. The reservation keeps the file ahead of use.
TEST(RevisionSeedTest, RevisionsAreReservedBeforeUseSoACrashNeverReusesThem) {
  const std::string file = ::testing::TempDir() + "/revision_reservation_test";
  std::remove(file.c_str());
  int errors = 0;
  RevisionReservation reservation(file, 100, [&](const absl::Status&) { ++errors; });
  StoreOptions options;
  options.initial_revision = 5000;
  options.before_revision = [&](int64_t revision) { reservation.BeforeRevision(revision); };
  int64_t last = 0;
  {
    KvStore store(options);
    for (int i = 0; i < 250; ++i) last = store.Commit({Mutation::Put("/k", std::to_string(i))});
  }  // no SaveRevision: as if killed
  EXPECT_EQ(last, 5250);
  EXPECT_GT(*InitialRevision(file, 1000), last);  // the next life starts above everything used
  EXPECT_LE(*InitialRevision(file, 1000), last + 101);  // and not much further
  EXPECT_EQ(errors, 0);
  RevisionReservation broken("/nonexistent-dir/revision", 100, [&](const absl::Status&) { ++errors; });
  broken.BeforeRevision(1);
  broken.BeforeRevision(2);  // retried, reported again
  EXPECT_EQ(errors, 2);
}

TEST(RevisionSeedTest, AStoreStartedLaterReportsEarlierRevisionsAsCompacted) {
  StoreOptions options;
  options.initial_revision = 1000;
  KvStore store(options);
  EXPECT_EQ(store.ReadEvents(KeyRange::Prefix("/"), 1, 10).compact_revision, 1000);
  EXPECT_EQ(store.ReadEvents(KeyRange::Prefix("/"), 1000, 10).compact_revision, 0);
}

}  // namespace
}  // namespace agent::store
