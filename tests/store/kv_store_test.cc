#include "store/kv_store.h"

#include <atomic>
#include <cstdlib>
#include <future>

#include <gtest/gtest.h>

namespace agent::store {
namespace {

using Kind = Event::Type;

TEST(KvStoreTest, EmptyStoreIsAtRevisionOne) {
  KvStore store;
  EXPECT_EQ(store.current_revision(), 1);
  auto result = store.Range({KeyRange::Prefix("/")});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->revision, 1);
  EXPECT_TRUE(result->kvs.empty());
}

TEST(KvStoreTest, OneCommitIsOneRevisionWithEtcdKeyMetadata) {
  KvStore store;
  EXPECT_EQ(store.Commit({Mutation::Put("/a", "1"), Mutation::Put("/b", "2")}), 2);
  EXPECT_EQ(store.Commit({Mutation::Put("/a", "3")}), 3);

  auto result = store.Range({KeyRange::Prefix("/")});
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->kvs.size(), 2u);
  EXPECT_EQ(result->kvs[0], (KeyValue{"/a", "3", 2, 3, 2, 0}));
  EXPECT_EQ(result->kvs[1], (KeyValue{"/b", "2", 2, 2, 1, 0}));
}

TEST(KvStoreTest, APutKeepsOneCopyOfTheValueSharedByTheKeyItsHistoryAndTheWriter) {
  // At mesh scale a value is a translated route: the live key, the event that made it, the event
  // that later replaces it (as prev_kv), readers and the writer all hold the same bytes.
  KvStore store;
  SharedValue written(std::string(4096, 'r'));
  store.Commit({Mutation::Put("/apisix/routes/1", written)});
  auto range = store.Range({KeyRange::Single("/apisix/routes/1")});
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_TRUE(range->kvs[0].value.SharesWith(written));
  WatchRead read = store.ReadEvents(KeyRange::Single("/apisix/routes/1"), 2, 10);
  ASSERT_EQ(read.revisions.size(), 1u);
  EXPECT_TRUE(read.revisions[0]->events[0].kv.value.SharesWith(written));

  store.Commit({Mutation::Put("/apisix/routes/1", "v2")});
  read = store.ReadEvents(KeyRange::Single("/apisix/routes/1"), 3, 10);
  ASSERT_EQ(read.revisions.size(), 1u);
  ASSERT_TRUE(read.revisions[0]->events[0].prev_kv.has_value());
  EXPECT_TRUE(read.revisions[0]->events[0].prev_kv->value.SharesWith(written));
  EXPECT_EQ(read.revisions[0]->events[0].kv.value, "v2");
}

TEST(KvStoreTest, CommitWithoutChangesCreatesNoRevision) {
  KvStore store;
  EXPECT_EQ(store.Commit({Mutation::Delete("/absent")}), 1);
  EXPECT_EQ(store.Commit({}), 1);
  EXPECT_EQ(store.current_revision(), 1);
}

TEST(KvStoreTest, DeleteThenRecreateStartsANewKeyLife) {
  KvStore store;
  store.Commit({Mutation::Put("/k", "v1")});  // 2
  store.Commit({Mutation::Delete("/k")});     // 3
  store.Commit({Mutation::Put("/k", "v2")});  // 4
  auto result = store.Range({KeyRange::Single("/k")});
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->kvs.size(), 1u);
  EXPECT_EQ(result->kvs[0].create_revision, 4);
  EXPECT_EQ(result->kvs[0].version, 1);
}

TEST(KvStoreTest, RangeSortsBytewiseAndHonoursLimitAndCount) {
  KvStore store;
  store.Commit({Mutation::Put("/r/b", "x"), Mutation::Put("/r/a", "x"), Mutation::Put(std::string("/r/\xff", 4), "x"),
                Mutation::Put("/s", "x")});
  RangeQuery query{KeyRange::Prefix("/r/")};
  query.limit = 2;
  auto result = store.Range(query);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->count, 3);
  EXPECT_TRUE(result->more);
  ASSERT_EQ(result->kvs.size(), 2u);
  EXPECT_EQ(result->kvs[0].key, "/r/a");
  EXPECT_EQ(result->kvs[1].key, "/r/b");

  query.limit = 0;
  query.count_only = true;
  result = store.Range(query);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->count, 3);
  EXPECT_TRUE(result->kvs.empty());
}

TEST(KvStoreTest, UnboundedRangeEndReturnsEveryKeyFromTheStart) {
  KvStore store;
  store.Commit({Mutation::Put("/a", "1"), Mutation::Put("/z", "2")});
  auto result = store.Range({KeyRange{"/b", std::string(1, '\0')}});
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->kvs.size(), 1u);
  EXPECT_EQ(result->kvs[0].key, "/z");
}

TEST(KvStoreTest, RangeAtPastRevisionUndoesLaterChanges) {
  KvStore store;
  store.Commit({Mutation::Put("/a", "1")});                           // 2
  store.Commit({Mutation::Put("/a", "2"), Mutation::Put("/b", "1")});  // 3
  store.Commit({Mutation::Delete("/a")});                              // 4

  RangeQuery query{KeyRange::Prefix("/")};
  query.revision = 2;
  auto at2 = store.Range(query);
  ASSERT_TRUE(at2.ok());
  EXPECT_EQ(at2->revision, 4);  // the header still carries the current revision, as in etcd
  ASSERT_EQ(at2->kvs.size(), 1u);
  EXPECT_EQ(at2->kvs[0], (KeyValue{"/a", "1", 2, 2, 1, 0}));

  query.revision = 3;
  auto at3 = store.Range(query);
  ASSERT_TRUE(at3.ok());
  ASSERT_EQ(at3->kvs.size(), 2u);
  EXPECT_EQ(at3->kvs[0].value, "2");

  query.revision = 5;
  EXPECT_EQ(store.Range(query).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(KvStoreTest, ReadEventsReplaysRevisionsInOrderFilteredByRange) {
  KvStore store;
  store.Commit({Mutation::Put("/w/1", "a")});  // 2
  store.Commit({Mutation::Put("/x/1", "a")});  // 3: outside the range
  store.Commit({Mutation::Put("/w/1", "b"), Mutation::Delete("/w/1")});  // 4: two events on one key

  WatchRead read = store.ReadEvents(KeyRange::Prefix("/w/"), 1, 100);
  EXPECT_EQ(read.compact_revision, 0);
  ASSERT_EQ(read.revisions.size(), 2u);
  EXPECT_EQ(read.revisions[0]->revision, 2);
  EXPECT_EQ(read.revisions[1]->revision, 4);
  ASSERT_EQ(read.revisions[1]->events.size(), 2u);
  EXPECT_EQ(read.revisions[1]->events[1].type, Kind::kDelete);
  EXPECT_EQ(read.revisions[1]->events[1].kv.value, "");
  ASSERT_TRUE(read.revisions[1]->events[1].prev_kv.has_value());
  EXPECT_EQ(read.revisions[1]->events[1].prev_kv->value, "b");
  EXPECT_EQ(read.next_revision, 5);

  WatchRead limited = store.ReadEvents(KeyRange::Prefix("/w/"), 3, 1);
  ASSERT_EQ(limited.revisions.size(), 1u);
  EXPECT_EQ(limited.revisions[0]->revision, 4);
}

TEST(KvStoreTest, HistoryWindowTrimsAndReportsCompaction) {
  StoreOptions options;
  options.max_history_revisions = 3;
  KvStore store(options);
  for (int i = 0; i < 6; ++i) store.Commit({Mutation::Put("/k", std::to_string(i))});  // revisions 2..7
  EXPECT_EQ(store.compacted_revision(), 5);  // revisions 2..4 left the window

  WatchRead stale = store.ReadEvents(KeyRange::Single("/k"), 3, 10);
  EXPECT_EQ(stale.compact_revision, 5);
  WatchRead fresh = store.ReadEvents(KeyRange::Single("/k"), 5, 10);
  EXPECT_EQ(fresh.compact_revision, 0);
  EXPECT_EQ(fresh.revisions.size(), 3u);

  RangeQuery query{KeyRange::Single("/k")};
  query.revision = 3;
  EXPECT_EQ(store.Range(query).status().code(), absl::StatusCode::kOutOfRange);
  query.revision = 5;  // the compaction revision itself is still readable, as in etcd
  auto at5 = store.Range(query);
  ASSERT_TRUE(at5.ok());
  EXPECT_EQ(at5->kvs.at(0).value, "3");
}

TEST(KvStoreTest, SubscriptionsHearOnlyTheirRangeAndStopWhenDestroyed) {
  KvStore store;
  std::atomic<int> calls{0};
  auto subscription = store.Subscribe(KeyRange::Prefix("/w/"), [&](int64_t) { ++calls; });
  store.Commit({Mutation::Put("/w/a", "1")});
  store.Commit({Mutation::Put("/x/a", "1")});
  EXPECT_EQ(calls, 1);
  subscription.reset();
  store.Commit({Mutation::Put("/w/a", "2")});
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace agent::store

namespace agent::store {
namespace {

// Issue 12, probe 2: a notification that destroys subscriptions (a watch stream retiring a
// compacted watcher from inside the call that wakes it) took the subscription lock again on the
// same thread: every later write, xDS apply, health probe and SIGTERM hung. Run in a thread with
// a deadline so a regression fails instead of hanging the suite.
TEST(KvStoreTest, ANotificationMaySubscribeAndUnsubscribe) {
  KvStore store;
  std::unique_ptr<Subscription> self, other, added;
  int self_calls = 0, other_calls = 0, added_calls = 0;
  self = store.Subscribe(KeyRange::Prefix("/a/"), [&](int64_t) {
    ++self_calls;
    self.reset();   // its own subscription
    other.reset();  // and another one, not yet notified for this revision
    added = store.Subscribe(KeyRange::Prefix("/a/"), [&](int64_t) { ++added_calls; });
  });
  other = store.Subscribe(KeyRange::Prefix("/a/"), [&](int64_t) { ++other_calls; });
  auto done = std::async(std::launch::async, [&] {
    store.Commit({Mutation::Put("/a/1", "x")});
    store.Commit({Mutation::Put("/a/2", "y")});
  });
  if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "a commit hung in its own notification";
    std::_Exit(1);  // the committing thread is deadlocked: nothing else can end the test
  }
  EXPECT_EQ(self_calls, 1);
  EXPECT_EQ(other_calls, 0);  // unsubscribed before its turn: never called
  EXPECT_EQ(added_calls, 1);  // subscribed during revision 2's notification: hears revision 3
  EXPECT_EQ(store.subscription_count(), 1u);
}

// Issue 12, probe 3: what a subscription can vouch for when history before its reader's
// position is compacted away.
TEST(KvStoreTest, ASubscriptionKnowsWhetherItsReaderLostEvents) {
  KvStore store;
  store.Commit({Mutation::Put("/busy", "0")});  // 2
  auto idle = store.Subscribe(KeyRange::Prefix("/idle/"), [](int64_t) {});
  EXPECT_FALSE(idle->LostNothingBefore(2, 4));  // a position before it subscribed: it cannot know
  store.Commit({Mutation::Put("/busy", "1")});    // 3
  EXPECT_TRUE(idle->LostNothingBefore(3, 4));
  store.Commit({Mutation::Put("/idle/k", "1")});  // 4, unread
  EXPECT_TRUE(idle->LostNothingBefore(3, 4));     // history from 4 still holds it
  EXPECT_FALSE(idle->LostNothingBefore(3, 5));    // compacted through 4: lost
  idle->ReadUpTo(5);
  EXPECT_TRUE(idle->LostNothingBefore(5, 6));
  store.Commit({Mutation::Put("/idle/k", "2")});  // 5
  store.Commit({Mutation::Put("/idle/k", "3")});  // 6
  idle->ReadUpTo(6);                              // 5 read, 6 not
  EXPECT_FALSE(idle->LostNothingBefore(6, 7));
}

}  // namespace
}  // namespace agent::store
