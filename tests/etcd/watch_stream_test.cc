#include "etcd/watch_stream.h"

#include <atomic>

#include <gtest/gtest.h>

namespace agent::etcd {
namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;
using store::Mutation;

WatchRequest Create(const std::string& key, const std::string& range_end, int64_t start, int64_t id = 0) {
  WatchRequest r;
  auto* c = r.mutable_create_request();
  c->set_key(key);
  c->set_range_end(range_end);
  c->set_start_revision(start);
  c->set_watch_id(id);
  return r;
}

class WatchStreamTest : public ::testing::Test {
 protected:
  std::vector<WatchResponse> Drain() {
    std::vector<WatchResponse> out;
    while (auto m = stream_.Next()) out.push_back(*m);
    return out;
  }
  store::KvStore store_;
  ClusterIdentity identity_ = ClusterIdentity::ForClientUrl("http://127.0.0.1:2379");
  std::atomic<int> wakes_{0};
  WatchStream stream_{store_, identity_, [this] { ++wakes_; }};
};

TEST_F(WatchStreamTest, CreatedComesFirstAndCarriesNoEvents) {
  store_.Commit({Mutation::Put("/a/1", "x")});  // 2
  stream_.Handle(Create("/a/", "/a0", 1));
  auto messages = Drain();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[0].created());
  EXPECT_EQ(messages[0].events_size(), 0);
  EXPECT_EQ(messages[0].header().revision(), 2);
  EXPECT_EQ(messages[1].events_size(), 1);  // history replay
  EXPECT_EQ(messages[1].header().revision(), 2);
}

TEST_F(WatchStreamTest, OneMessagePerRevisionWithIncreasingHeaders) {
  stream_.Handle(Create("/a/", "/a0", 0));
  Drain();
  store_.Commit({Mutation::Put("/a/1", "x"), Mutation::Put("/a/2", "y")});  // 2
  store_.Commit({Mutation::Delete("/a/1")});                                // 3
  EXPECT_GE(wakes_, 2);
  auto messages = Drain();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].header().revision(), 2);
  EXPECT_EQ(messages[0].events_size(), 2);
  EXPECT_EQ(messages[1].header().revision(), 3);
  const auto& deleted = messages[1].events(0);
  EXPECT_EQ(deleted.type(), mvccpb::Event::DELETE);
  EXPECT_TRUE(deleted.kv().value().empty());  // APISIX decides "delete" by the missing value
  EXPECT_EQ(deleted.kv().mod_revision(), 3);
}

TEST_F(WatchStreamTest, SeveralWatchesOnOneStreamAndCancel) {
  stream_.Handle(Create("/a", "", 0));
  stream_.Handle(Create("/b", "", 0, 7));
  auto created = Drain();
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0].watch_id(), 0);
  EXPECT_EQ(created[1].watch_id(), 7);

  store_.Commit({Mutation::Put("/b", "1")});
  auto events = Drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].watch_id(), 7);

  WatchRequest cancel;
  cancel.mutable_cancel_request()->set_watch_id(7);
  stream_.Handle(cancel);
  auto canceled = Drain();
  ASSERT_EQ(canceled.size(), 1u);
  EXPECT_TRUE(canceled[0].canceled());
  store_.Commit({Mutation::Put("/b", "2")});
  EXPECT_TRUE(Drain().empty());
}

TEST_F(WatchStreamTest, DuplicateClientWatchIdIsRefused) {
  stream_.Handle(Create("/a", "", 0, 3));
  stream_.Handle(Create("/b", "", 0, 3));
  auto messages = Drain();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[1].canceled());
  EXPECT_EQ(messages[1].watch_id(), -1);
}

TEST_F(WatchStreamTest, FiltersAndPrevKv) {
  WatchRequest r = Create("/k", "", 0);
  r.mutable_create_request()->set_prev_kv(true);
  r.mutable_create_request()->add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
  stream_.Handle(r);
  Drain();
  store_.Commit({Mutation::Put("/k", "1")});
  store_.Commit({Mutation::Delete("/k")});
  auto messages = Drain();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].events(0).type(), mvccpb::Event::DELETE);
  EXPECT_EQ(messages[0].events(0).prev_kv().value(), "1");
}

TEST(WatchCompactionTest, WatchFromBeforeHistoryIsCanceledWithCompactRevision) {
  store::StoreOptions options;
  options.max_history_revisions = 2;
  store::KvStore store(options);
  for (int i = 0; i < 5; ++i) store.Commit({Mutation::Put("/k", std::to_string(i))});  // 2..6
  ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://x");
  WatchStream stream(store, identity, [] {});
  stream.Handle(Create("/k", "", 2));
  auto created = stream.Next();
  ASSERT_TRUE(created && created->created());
  auto compacted = stream.Next();
  ASSERT_TRUE(compacted.has_value());
  EXPECT_TRUE(compacted->canceled());
  EXPECT_EQ(compacted->compact_revision(), 5);
  EXPECT_EQ(compacted->header().revision(), 0);
  EXPECT_FALSE(stream.Next().has_value());

  stream.Handle(Create("/k", "", 5));  // exactly the compact revision is accepted
  stream.Next();
  auto replay = stream.Next();
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->header().revision(), 5);
}

TEST(WatchFutureTest, FutureStartRevisionWaits) {
  store::KvStore store;
  ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://x");
  WatchStream stream(store, identity, [] {});
  stream.Handle(Create("/k", "", 3));
  stream.Next();  // created
  store.Commit({Mutation::Put("/k", "a")});  // 2: before the start
  EXPECT_FALSE(stream.Next().has_value());
  store.Commit({Mutation::Put("/k", "b")});  // 3
  auto m = stream.Next();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->events(0).kv().value(), "b");
}

}  // namespace
}  // namespace agent::etcd

namespace agent::etcd {
namespace {

TEST_F(WatchStreamTest, ProgressRequestIsAnsweredOnlyAfterPendingEvents) {
  stream_.Handle(Create("/a/", "/a0", 0));
  Drain();
  store_.Commit({Mutation::Put("/a/1", "x")});  // 2: pending for the watcher
  WatchRequest progress;
  progress.mutable_progress_request();
  stream_.Handle(progress);
  auto messages = Drain();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].events_size(), 1);  // the event first
  EXPECT_EQ(messages[1].watch_id(), -1);    // then the progress notification
  EXPECT_EQ(messages[1].header().revision(), 2);
  EXPECT_EQ(messages[1].events_size(), 0);
}

}  // namespace
}  // namespace agent::etcd

namespace agent::etcd {
namespace {

// Issue 12, probe 3: a watcher on a quiet range is not canceled when history moves past it, by
// compaction or by the window's own trim; it gets the next event of its range, as from etcd.
TEST_F(WatchStreamTest, AnIdleWatcherSurvivesCompactionAndTrim) {
  stream_.Handle(Create("/idle/", "/idle0", 0));
  Drain();
  store_.Commit({Mutation::Put("/busy", "1")});
  const int64_t busy = store_.Commit({Mutation::Put("/busy", "2")});
  ASSERT_TRUE(store_.Compact(busy).ok());
  store_.Commit({Mutation::Put("/idle/k", "x")});
  auto messages = Drain();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_FALSE(messages[0].canceled());
  ASSERT_EQ(messages[0].events_size(), 1);
  EXPECT_EQ(messages[0].events(0).kv().key(), "/idle/k");
}

TEST(WatchStreamTrimTest, AnIdleWatcherSurvivesTheHistoryWindowButALaggingOneIsCanceled) {
  store::StoreOptions options;
  options.max_history_revisions = 3;
  store::KvStore store(options);
  auto identity = ClusterIdentity::ForClientUrl("http://127.0.0.1:2379");
  WatchStream stream(store, identity, [] {});
  stream.Handle(Create("/idle/", "/idle0", 0, 1));
  stream.Handle(Create("/busy", "", 0, 2));
  while (stream.Next()) {
  }
  for (int i = 0; i < 10; ++i) store.Commit({Mutation::Put("/busy", std::to_string(i))});  // watcher 2 lags
  store.Commit({Mutation::Put("/idle/k", "x")});
  bool idle_event = false, busy_canceled = false;
  while (auto m = stream.Next()) {
    if (m->watch_id() == 1) {
      EXPECT_FALSE(m->canceled());
      idle_event = m->events_size() == 1 && m->events(0).kv().key() == "/idle/k";
    }
    if (m->watch_id() == 2 && m->canceled()) busy_canceled = m->compact_revision() > 0;
  }
  EXPECT_TRUE(idle_event);
  EXPECT_TRUE(busy_canceled);  // it really missed events: etcd's answer stays
}

}  // namespace
}  // namespace agent::etcd

namespace agent::etcd {
namespace {

TEST(WatchStreamLimitsTest, PerStreamAndTotalCapsRefuseCreatesAndCancelsGiveBack) {
  store::KvStore store;
  ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://127.0.0.1:2379");
  WatchBudget budget({.per_stream = 2, .total = 3});
  WatchStreamContext shared;
  shared.budget = &budget;
  WatchStream a(store, identity, [] {}, shared);
  WatchStream b(store, identity, [] {}, shared);
  auto next = [](WatchStream& s) {
    auto m = s.Next();
    return m ? *m : WatchResponse();
  };
  for (int i = 0; i < 3; ++i) a.Handle(Create("/a", "", 0));
  EXPECT_FALSE(next(a).canceled());
  EXPECT_FALSE(next(a).canceled());
  WatchResponse refused = next(a);
  EXPECT_TRUE(refused.created());
  EXPECT_TRUE(refused.canceled());
  EXPECT_EQ(refused.watch_id(), -1);
  EXPECT_EQ(refused.cancel_reason(), "etcdserver: too many watches on this stream (limit 2)");

  b.Handle(Create("/b", "", 0));
  b.Handle(Create("/b", "", 0));
  EXPECT_FALSE(next(b).canceled());
  EXPECT_EQ(next(b).cancel_reason(), "etcdserver: too many watches on this server (limit 3)");
  EXPECT_EQ(budget.in_use(), 3u);

  WatchRequest cancel;
  cancel.mutable_cancel_request()->set_watch_id(0);
  a.Handle(cancel);
  EXPECT_TRUE(next(a).canceled());
  EXPECT_EQ(budget.in_use(), 2u);
  b.Handle(Create("/b", "", 0));
  EXPECT_FALSE(next(b).canceled());
  a.Shutdown();
  EXPECT_EQ(budget.in_use(), 2u);
  b.Shutdown();
  EXPECT_EQ(budget.in_use(), 0u);
}

}  // namespace
}  // namespace agent::etcd

namespace agent::etcd {
namespace {

// The registry's view: which streams watch what, and how far each watcher has been sent — an
// idle watcher whose range saw nothing is in sync at the current revision, one with events not yet
// pulled is behind at the last revision it was handed.
TEST(WatchRegistryTest, ListsStreamsAndHowFarEachWatcherHasBeenSent) {
  store::KvStore store;
  ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://127.0.0.1:2379");
  WatchRegistry registry;
  auto grpc = std::make_unique<WatchStream>(store, identity, [] {},
                                            WatchStreamContext{nullptr, &registry, WatchProtocol::kGrpc, "ipv4:127.0.0.1:5000"});
  WatchStream http(store, identity, [] {}, {nullptr, &registry, WatchProtocol::kHttp, "ipv4:127.0.0.1:6000"});
  auto drain = [](WatchStream& s) {
    int n = 0;
    while (auto m = s.Next()) ++n;
    return n;
  };
  grpc->Handle(Create("/apisix/", "/apisix0", 0));
  http.Handle(Create("/apisix/routes/", "/apisix/routes0", 0));
  http.Handle(Create("/other/", "/other0", 0));
  drain(*grpc);
  drain(http);
  store.Commit({Mutation::Put("/apisix/routes/1", "x")});     // 2
  store.Commit({Mutation::Put("/apisix/upstreams/1", "y")});  // 3

  std::vector<WatchStreamStatus> streams = registry.Streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].protocol, WatchProtocol::kGrpc);  // sorted by protocol
  EXPECT_EQ(streams[0].peer, "ipv4:127.0.0.1:5000");
  ASSERT_EQ(streams[0].watchers.size(), 1u);
  EXPECT_EQ(streams[0].watchers[0].key, "/apisix/");
  EXPECT_TRUE(streams[0].watchers[0].pending);
  EXPECT_EQ(streams[0].watchers[0].sent_revision, 1);
  ASSERT_EQ(streams[1].watchers.size(), 2u);
  EXPECT_TRUE(streams[1].watchers[0].pending);         // /apisix/routes/ has revision 2 waiting
  EXPECT_EQ(streams[1].watchers[0].sent_revision, 1);
  EXPECT_FALSE(streams[1].watchers[1].pending);        // /other/ saw nothing: in sync
  EXPECT_EQ(streams[1].watchers[1].sent_revision, 3);

  // One revision handed to the gRPC transport: that watcher is at 2, with 3 still pending.
  auto message = grpc->Next();
  ASSERT_TRUE(message.has_value());
  grpc->Sent(static_cast<size_t>(message->events_size()), 100);
  streams = registry.Streams();
  EXPECT_EQ(streams[0].watchers[0].sent_revision, 2);
  EXPECT_TRUE(streams[0].watchers[0].pending);
  drain(*grpc);
  drain(http);
  streams = registry.Streams();
  EXPECT_EQ(streams[0].watchers[0].sent_revision, 3);
  EXPECT_FALSE(streams[0].watchers[0].pending);
  EXPECT_EQ(streams[1].watchers[0].sent_revision, 3);
  // The idle watcher, now behind: it missed nothing up to 3 (its own position never moved from 2).
  store.Commit({Mutation::Put("/other/x", "z")});  // 4
  streams = registry.Streams();
  EXPECT_TRUE(streams[1].watchers[1].pending);
  EXPECT_EQ(streams[1].watchers[1].sent_revision, 3);

  const WatchTraffic sent = registry.traffic(WatchProtocol::kGrpc);
  EXPECT_EQ(sent.responses, 1u);
  EXPECT_EQ(sent.events, 1u);
  EXPECT_EQ(sent.bytes, 100u);
  EXPECT_EQ(registry.traffic(WatchProtocol::kHttp).responses, 0u);

  // A stream leaves when shut down (and when destroyed without a Shutdown).
  http.Shutdown();
  EXPECT_EQ(registry.stream_count(), 1u);
  grpc.reset();
  EXPECT_EQ(registry.stream_count(), 0u);
  EXPECT_TRUE(registry.Streams().empty());
}

}  // namespace
}  // namespace agent::etcd
