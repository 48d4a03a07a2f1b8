#include "etcd/watch_events.h"

#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "etcd/gateway_json.h"
#include "etcd/watch_stream.h"

namespace agent::etcd {
namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;
using store::Mutation;

WatchRequest Create(const std::string& key, const std::string& range_end, bool prev_kv = false,
                    std::vector<etcdserverpb::WatchCreateRequest::FilterType> filters = {}) {
  WatchRequest r;
  auto* c = r.mutable_create_request();
  c->set_key(key);
  c->set_range_end(range_end);
  c->set_start_revision(1);
  c->set_prev_kv(prev_kv);
  for (auto f : filters) c->add_filters(f);
  return r;
}

// What the gateway sent for a message before events were shared: the watcher's own protobuf,
// printed by the gateway's printer.
std::string PerWatcherLine(const WatchResponse& response) {
  return "{\"result\":" + ToGatewayJson(response) + "}\n";
}

class WatchEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.Commit({Mutation::Put("/apisix/routes/1", "{\"uri\":\"/a\"}"), Mutation::Put("/apisix/upstreams/1", "u")});
    store_.Commit({Mutation::Put("/apisix/routes/1", std::string("\0\xff binary \"q\"", 13))});
    store_.Commit({Mutation::Delete("/apisix/upstreams/1"), Mutation::Put("/other", "x")});
    store_.Commit({Mutation::Put("/apisix/routes/2", "")});  // an empty value is not printed
  }
  // Every message of a stream opened with `request`, as the shared line and as the protobuf.
  void ExpectSharedLinesMatchPerWatcherOnes(const WatchRequest& request, int watchers) {
    WatchEventCache cache;
    std::vector<std::unique_ptr<WatchStream>> streams;
    for (int i = 0; i < watchers; ++i) {
      WatchStreamContext context;
      context.events = &cache;
      streams.push_back(std::make_unique<WatchStream>(store_, identity_, [] {}, context));
      // Different ids on different streams: the id is the only per-watcher part.
      for (int skip = 0; skip < i; ++skip) streams.back()->Handle(Create("/none", ""));
      streams.back()->Handle(request);
    }
    size_t events = 0;
    for (auto& stream : streams) {
      while (auto message = stream->NextMessage()) {
        const WatchResponse response = message->Response();
        EXPECT_EQ(GatewayLinePieces(*message).Joined(), PerWatcherLine(response));
        EXPECT_EQ(message->event_count(), static_cast<size_t>(response.events_size()));
        events += response.events_size();
      }
    }
    EXPECT_GT(events, 0u);
    if (watchers > 1) {
      EXPECT_GT(cache.stats().hits, 0u);  // built once, shared by the others
    }
  }

  store::KvStore store_;
  ClusterIdentity identity_ = ClusterIdentity::ForClientUrl("http://127.0.0.1:2379");
};

TEST_F(WatchEventsTest, ASharedLineIsByteIdenticalToTheWatchersOwnEncoding) {
  ExpectSharedLinesMatchPerWatcherOnes(Create("/apisix/", "/apisix0"), 3);
}

TEST_F(WatchEventsTest, ByteIdenticalWithPreviousValuesAndFilters) {
  ExpectSharedLinesMatchPerWatcherOnes(Create("/apisix/", "/apisix0", /*prev_kv=*/true), 3);
  ExpectSharedLinesMatchPerWatcherOnes(Create("/apisix/", "/apisix0", false, {etcdserverpb::WatchCreateRequest::NOPUT}), 2);
  ExpectSharedLinesMatchPerWatcherOnes(
      Create("/apisix/", "/apisix0", true, {etcdserverpb::WatchCreateRequest::NODELETE}), 2);
  ExpectSharedLinesMatchPerWatcherOnes(Create("/apisix/routes/1", ""), 2);
  ExpectSharedLinesMatchPerWatcherOnes(Create("\0", std::string(1, '\0')), 2);
}

TEST_F(WatchEventsTest, WatcherIdZeroAndLargeIdsAreEncodedAsTheirOwnMessages) {
  store::WatchRead read = store_.ReadEvents(store::KeyRange::Prefix("/apisix/"), 2, 1);
  ASSERT_EQ(read.revisions.size(), 1u);
  auto shared = SharedEvents::Build(*read.revisions[0], {store::KeyRange::Prefix("/apisix/")}, identity_);
  ASSERT_NE(shared, nullptr);
  for (int64_t id : {int64_t{0}, int64_t{1}, int64_t{1} << 40}) {
    WatchMessage message{std::nullopt, shared, id};
    EXPECT_EQ(GatewayLinePieces(message).Joined(), PerWatcherLine(message.Response())) << id;
    EXPECT_EQ(message.Response().watch_id(), id);
  }
}

// The gateway writes a line from its pieces: joined they are the line, and every watcher's head
// and tail are the entry's own text (not copies); only the id member is the watcher's.
TEST_F(WatchEventsTest, ALinesPiecesAreTheLineAndShareTheEntrysText) {
  store::WatchRead read = store_.ReadEvents(store::KeyRange::Prefix("/apisix/"), 2, 1);
  ASSERT_EQ(read.revisions.size(), 1u);
  auto shared = SharedEvents::Build(*read.revisions[0], {store::KeyRange::Prefix("/apisix/")}, identity_);
  ASSERT_NE(shared, nullptr);
  const WatchMessage first{std::nullopt, shared, 3}, second{std::nullopt, shared, std::numeric_limits<int64_t>::max()};
  const GatewayLinePieces a(first), b(second);
  EXPECT_EQ(a.Joined(), PerWatcherLine(first.Response()));
  EXPECT_EQ(b.Joined(), PerWatcherLine(second.Response()));
  EXPECT_EQ(a.size(), a.Joined().size());
  EXPECT_EQ(a.pieces()[0].data(), b.pieces()[0].data());
  EXPECT_EQ(a.pieces()[2].data(), b.pieces()[2].data());
  EXPECT_EQ(a.pieces()[1], ",\"watch_id\":\"3\"");
  EXPECT_EQ(b.pieces()[1], ",\"watch_id\":\"9223372036854775807\"");
  // A message of its own is one piece.
  WatchResponse created;
  created.set_created(true);
  created.set_watch_id(4);
  const WatchMessage own{created, nullptr, 0};
  const GatewayLinePieces c(own);
  EXPECT_EQ(c.Joined(), PerWatcherLine(created));
  EXPECT_TRUE(c.pieces()[1].empty() && c.pieces()[2].empty());
}

TEST_F(WatchEventsTest, TakingTheResponseMovesOnlyWhatWasBuiltForTheWatcherAlone) {
  store::WatchRead read = store_.ReadEvents(store::KeyRange::Prefix("/apisix/"), 2, 1);
  ASSERT_EQ(read.revisions.size(), 1u);
  const WatchShape all{store::KeyRange::Prefix("/apisix/")};
  WatchEventCache cache;
  bool kept = false;
  auto shared = cache.Get(read.revisions[0], all, identity_, &kept);
  EXPECT_TRUE(kept);  // the cache's: other watchers may hold it
  const std::string before = shared->response().SerializeAsString();
  WatchResponse copied = WatchMessage{std::nullopt, shared, 7, /*exclusive=*/!kept}.TakeResponse();
  EXPECT_EQ(copied.watch_id(), 7);
  EXPECT_EQ(shared->response().SerializeAsString(), before);  // whole for the others

  WatchEventCache tiny(/*max_entries=*/16, /*max_bytes=*/16);  // too large to keep: the caller's alone
  auto own = tiny.Get(read.revisions[0], all, identity_, &kept);
  EXPECT_FALSE(kept);
  WatchMessage only{std::nullopt, std::move(own), 9, /*exclusive=*/!kept};
  WatchResponse moved = std::move(only).TakeResponse();
  EXPECT_EQ(moved.watch_id(), 9);
  moved.set_watch_id(0);
  EXPECT_EQ(moved.SerializeAsString(), before);
}

TEST_F(WatchEventsTest, AShapeThatFiltersOutEveryEventBuildsNothing) {
  store::WatchRead read = store_.ReadEvents(store::KeyRange::Prefix("/apisix/upstreams/"), 4, 1);
  ASSERT_EQ(read.revisions.size(), 1u);  // revision 4 deletes the upstream
  WatchShape no_delete{store::KeyRange::Prefix("/apisix/upstreams/"), false, false, /*no_delete=*/true};
  EXPECT_EQ(SharedEvents::Build(*read.revisions[0], no_delete, identity_), nullptr);
}

TEST_F(WatchEventsTest, TheCacheIsBoundedByEntriesAndBytes) {
  WatchEventCache cache(/*max_entries=*/2, /*max_bytes=*/1 << 20);
  const WatchShape all{store::KeyRange::Prefix("/")};
  for (int64_t revision = 2; revision <= 5; ++revision) {
    store::WatchRead read = store_.ReadEvents(all.range, revision, 1);
    ASSERT_EQ(read.revisions.size(), 1u);
    ASSERT_NE(cache.Get(read.revisions[0], all, identity_), nullptr);
    ASSERT_NE(cache.Get(read.revisions[0], all, identity_), nullptr);  // the second is a hit
  }
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(cache.stats().hits, 4u);
  EXPECT_EQ(cache.stats().builds, 4u);

  // A revision larger than a quarter of the byte bound is built for each caller, not kept.
  WatchEventCache small(/*max_entries=*/16, /*max_bytes=*/16);
  store::WatchRead read = store_.ReadEvents(all.range, 2, 1);
  auto first = small.Get(read.revisions[0], all, identity_);
  auto second = small.Get(read.revisions[0], all, identity_);
  EXPECT_NE(first, second);
  EXPECT_EQ(small.stats().entries, 0u);
  EXPECT_EQ(first->response().SerializeAsString(), second->response().SerializeAsString());
}

TEST_F(WatchEventsTest, ThreadsShareOneEntryAndItsJson) {
  // HTTP sessions on several io threads pump the same revision at once: one entry, one JSON.
  WatchEventCache cache;
  const WatchShape all{store::KeyRange::Prefix("/apisix/")};
  store::WatchRead read = store_.ReadEvents(all.range, 2, 1);
  ASSERT_EQ(read.revisions.size(), 1u);
  std::vector<std::string> lines(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const WatchMessage message{std::nullopt, cache.Get(read.revisions[0], all, identity_), i + 1};
      lines[i] = GatewayLinePieces(message).Joined();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    WatchMessage own{std::nullopt, SharedEvents::Build(*read.revisions[0], all, identity_), i + 1};
    EXPECT_EQ(lines[i], PerWatcherLine(own.Response()));
  }
  EXPECT_EQ(cache.stats().entries, 1u);
}

}  // namespace
}  // namespace agent::etcd
