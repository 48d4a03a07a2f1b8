// etcd's watch guarantees, checked over recorded histories of concurrent writers and watchers
// (https://etcd.io/docs/v3.5/learning/api_guarantees/#watch-apis): ordered, unique, atomic,
// reliable, resumable. Writers keep an independent model of every revision they made; each
// watcher's record must match it exactly, including a watcher that reads slowly and one that falls
// out of the history window and resumes from the compaction revision.
#include <atomic>
#include <condition_variable>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "etcd/watch_stream.h"

namespace agent::etcd {
namespace {

using store::KeyRange;
using store::Mutation;

struct TruthEvent {
  std::string key;
  bool is_delete = false;
  std::string value;
};
using Truth = std::map<int64_t, std::vector<TruthEvent>>;  // revision → events, in order

struct Received {
  std::vector<int64_t> header_revisions;
  std::map<int64_t, std::vector<TruthEvent>> by_revision;
  int64_t compact_revision = 0;
  bool duplicate_revision = false;
};

// Drives one WatchStream from its own thread, as a transport would: wait for a wake, drain.
class Watcher {
 public:
  Watcher(store::KvStore& store, const ClusterIdentity& identity, KeyRange range, int64_t start,
          std::chrono::microseconds per_message_delay, WatchRegistry* registry = nullptr)
      : delay_(per_message_delay), stream_(store, identity, [this] { Wake(); }, {nullptr, registry, WatchProtocol::kGrpc, ""}) {
    etcdserverpb::WatchRequest request;
    request.mutable_create_request()->set_key(range.key);
    request.mutable_create_request()->set_range_end(range.range_end);
    request.mutable_create_request()->set_start_revision(start);
    stream_.Handle(request);
    thread_ = std::thread([this] { Run(); });
  }
  ~Watcher() { Stop(); }

  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    stream_.Shutdown();
  }
  const Received& received() const { return received_; }
  int64_t last_revision() const { return last_revision_.load(); }

 private:
  void Wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_one();
  }
  void Run() {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return woken_ || stop_; });
        if (stop_) return;
        woken_ = false;
      }
      while (auto message = stream_.Next()) {
        stream_.Sent(static_cast<size_t>(message->events_size()), 1);
        Record(*message);
        if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
      }
    }
  }
  void Record(const etcdserverpb::WatchResponse& m) {
    if (m.created()) return;
    if (m.canceled()) {
      received_.compact_revision = m.compact_revision();
      return;
    }
    const int64_t revision = m.header().revision();
    received_.header_revisions.push_back(revision);
    auto& events = received_.by_revision[revision];
    if (!events.empty()) received_.duplicate_revision = true;
    for (const auto& e : m.events()) {
      events.push_back({e.kv().key(), e.type() == mvccpb::Event::DELETE, e.kv().value()});
    }
    last_revision_ = revision;
  }

  std::chrono::microseconds delay_;
  WatchStream stream_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_ = false;
  Received received_;
  std::atomic<int64_t> last_revision_{0};
  std::thread thread_;
};

// Writers: random puts and deletes, some several keys at once, serialised through a model that
// records the truth of every revision.
Truth RunWriters(store::KvStore& store, int writers, int commits_each) {
  Truth truth;
  std::mutex model_mutex;
  std::map<std::string, std::string> model;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(1234 + w);
      for (int i = 0; i < commits_each; ++i) {
        std::vector<Mutation> mutations;
        int count = 1 + static_cast<int>(random() % 3);
        std::set<std::string> used;
        for (int k = 0; k < count; ++k) {
          std::string key = "/w/" + std::to_string(random() % 40);
          if (!used.insert(key).second) continue;
          if (random() % 4 == 0) {
            mutations.push_back(Mutation::Delete(key));
          } else {
            mutations.push_back(Mutation::Put(key, "w" + std::to_string(w) + "-" + std::to_string(i)));
          }
        }
        std::lock_guard lock(model_mutex);
        std::vector<TruthEvent> events;
        for (const auto& m : mutations) {
          if (m.kind == Mutation::Kind::kPut) {
            model[m.key] = m.value;
            events.push_back({m.key, false, m.value});
          } else if (model.erase(m.key) > 0) {
            events.push_back({m.key, true, ""});
          }
        }
        const int64_t before = store.current_revision();
        const int64_t revision = store.Commit(mutations);
        EXPECT_EQ(revision, events.empty() ? before : before + 1);
        if (!events.empty()) truth[revision] = std::move(events);
      }
    });
  }
  for (auto& t : threads) t.join();
  return truth;
}

// Every property at once: the watcher saw exactly the truth's revisions touching `range` from
// `start` on, each in one message, in order, once, with the same events.
void ExpectMatchesTruth(const Received& r, const Truth& truth, const KeyRange& range, int64_t start) {
  EXPECT_FALSE(r.duplicate_revision) << "unique";
  EXPECT_TRUE(std::is_sorted(r.header_revisions.begin(), r.header_revisions.end()) &&
              std::adjacent_find(r.header_revisions.begin(), r.header_revisions.end()) == r.header_revisions.end())
      << "ordered";
  std::map<int64_t, std::vector<TruthEvent>> expected;
  for (const auto& [revision, events] : truth) {
    if (revision < start) continue;
    for (const auto& e : events) {
      if (range.Contains(e.key)) expected[revision].push_back(e);
    }
  }
  ASSERT_EQ(r.by_revision.size(), expected.size()) << "reliable: every revision in range, no extra";
  for (const auto& [revision, events] : expected) {
    auto got = r.by_revision.find(revision);
    ASSERT_NE(got, r.by_revision.end()) << "reliable: revision " << revision << " missing";
    ASSERT_EQ(got->second.size(), events.size()) << "atomic: revision " << revision << " split or partial";
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(got->second[i].key, events[i].key);
      EXPECT_EQ(got->second[i].is_delete, events[i].is_delete);
      EXPECT_EQ(got->second[i].value, events[i].value);
    }
  }
}

bool WaitUntil(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {  // at most 10 s
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(WatchGuaranteesTest, ConcurrentWritersAndWatchersIncludingASlowOne) {
  store::StoreOptions options;
  options.max_history_revisions = 100000;
  store::KvStore store(options);
  const ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://test");
  const std::vector<KeyRange> ranges = {KeyRange::Prefix("/w/"), KeyRange::Single("/w/7"),
                                        KeyRange{"/w/1", "/w/3"}, KeyRange::Prefix("/w/2")};
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (const auto& range : ranges) {
    watchers.push_back(std::make_unique<Watcher>(store, identity, range, 0, std::chrono::microseconds(0)));
  }
  auto slow = std::make_unique<Watcher>(store, identity, KeyRange::Prefix("/w/"), 0, std::chrono::microseconds(300));

  Truth truth = RunWriters(store, 4, 400);
  const int64_t last = store.current_revision();
  ASSERT_GT(truth.size(), 1000u);

  auto last_in = [&](const KeyRange& range) {
    int64_t found = 0;
    for (const auto& [revision, events] : truth) {
      for (const auto& e : events) {
        if (range.Contains(e.key)) found = revision;
      }
    }
    return found;
  };
  for (size_t i = 0; i < ranges.size(); ++i) {
    const int64_t target = last_in(ranges[i]);
    ASSERT_TRUE(WaitUntil([&] { return watchers[i]->last_revision() >= target; })) << "watcher " << i;
    watchers[i]->Stop();
    ExpectMatchesTruth(watchers[i]->received(), truth, ranges[i], 0);
  }
  ASSERT_TRUE(WaitUntil([&] { return slow->last_revision() >= last; })) << "slow watcher never caught up";
  slow->Stop();
  ExpectMatchesTruth(slow->received(), truth, KeyRange::Prefix("/w/"), 0);

  // Resumable: a watch from a revision in the middle sees exactly what came from there on.
  const int64_t middle = truth.begin()->first + static_cast<int64_t>(truth.size() / 2);
  Watcher resumed(store, identity, KeyRange::Prefix("/w/"), middle, std::chrono::microseconds(0));
  ASSERT_TRUE(WaitUntil([&] { return resumed.last_revision() >= last; }));
  resumed.Stop();
  ExpectMatchesTruth(resumed.received(), truth, KeyRange::Prefix("/w/"), middle);
}

TEST(WatchGuaranteesTest, AWatcherBehindTheHistoryWindowIsCompactedAndResumesExactly) {
  store::StoreOptions options;
  options.max_history_revisions = 200;
  store::KvStore store(options);
  const ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://test");
  // This watcher never reads while the writers run: it must neither block them nor hold memory.
  auto stalled = std::make_unique<WatchStream>(store, identity, [] {});
  etcdserverpb::WatchRequest request;
  request.mutable_create_request()->set_key("/w/");
  request.mutable_create_request()->set_range_end("/w0");
  request.mutable_create_request()->set_start_revision(1);
  stalled->Handle(request);

  Truth truth = RunWriters(store, 2, 500);
  ASSERT_TRUE(stalled->Next()->created());
  auto canceled = stalled->Next();
  ASSERT_TRUE(canceled.has_value());
  ASSERT_TRUE(canceled->canceled());
  const int64_t compact = canceled->compact_revision();
  EXPECT_EQ(compact, store.compacted_revision());
  EXPECT_GT(compact, 1);

  // Resume where etcd says: from the compaction revision, exactly the rest of the truth.
  Watcher resumed(store, identity, KeyRange::Prefix("/w/"), compact, std::chrono::microseconds(0));
  ASSERT_TRUE(WaitUntil([&] { return resumed.last_revision() >= store.current_revision(); }));
  resumed.Stop();
  ExpectMatchesTruth(resumed.received(), truth, KeyRange::Prefix("/w/"), compact);
}

// The registry is read (as /syncz and a metrics scrape read it) while writers commit, watchers
// drain and streams come and go: what it reports of a watcher only moves forward and never passes
// the store, and once everything is drained every watcher reports the last revision, in sync.
TEST(WatchGuaranteesTest, TheRegistryIsReadSafelyWhileStreamsComeGoAndDrain) {
  store::StoreOptions options;
  options.max_history_revisions = 100000;
  store::KvStore store(options);
  const ClusterIdentity identity = ClusterIdentity::ForClientUrl("http://test");
  WatchRegistry registry;
  const std::vector<KeyRange> ranges = {KeyRange::Prefix("/w/"), KeyRange::Prefix("/w/1"), KeyRange::Single("/w/5")};
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (const auto& range : ranges) {
    watchers.push_back(std::make_unique<Watcher>(store, identity, range, 0, std::chrono::microseconds(50), &registry));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  bool went_back = false, passed_store = false;
  std::thread reader([&] {
    std::map<std::string, int64_t> seen;  // a long-lived (gRPC) watcher's key → last reported revision
    while (!stop) {
      for (const WatchStreamStatus& s : registry.Streams()) {
        const int64_t now = store.current_revision();
        for (const WatcherStatus& w : s.watchers) {
          if (w.sent_revision > now) passed_store = true;
          if (s.protocol != WatchProtocol::kGrpc) continue;
          int64_t& previous = seen[w.key];
          if (w.sent_revision < previous) went_back = true;
          previous = w.sent_revision;
        }
      }
      ++reads;
    }
  });
  // Streams that join and leave while the registry is read.
  std::thread churn([&] {
    while (!stop) {
      WatchStream passing(store, identity, [] {}, {nullptr, &registry, WatchProtocol::kHttp, ""});
      etcdserverpb::WatchRequest request;
      request.mutable_create_request()->set_key("/w/");
      request.mutable_create_request()->set_range_end("/w0");
      passing.Handle(request);
      while (passing.Next()) {
      }
    }
  });
  Truth truth = RunWriters(store, 3, 300);
  const int64_t last = store.current_revision();
  bool drained = true;
  for (size_t i = 0; i < ranges.size(); ++i) {
    int64_t last_in_range = 0;
    for (const auto& [revision, events] : truth) {
      for (const auto& e : events) {
        if (ranges[i].Contains(e.key)) last_in_range = revision;
      }
    }
    drained = drained && WaitUntil([&] { return watchers[i]->last_revision() >= last_in_range; });
  }
  const bool read_enough = WaitUntil([&] { return reads.load() > 10; });
  stop = true;
  reader.join();
  churn.join();
  ASSERT_TRUE(drained);
  ASSERT_TRUE(read_enough);
  EXPECT_FALSE(passed_store);
  EXPECT_FALSE(went_back);

  // Drained: every watcher is in sync at the last revision.
  ASSERT_TRUE(WaitUntil([&] {
    for (const WatchStreamStatus& s : registry.Streams()) {
      for (const WatcherStatus& w : s.watchers) {
        if (w.pending || w.sent_revision != last) return false;
      }
    }
    return true;
  }));
  EXPECT_EQ(registry.stream_count(), watchers.size());
  EXPECT_GT(registry.traffic(WatchProtocol::kGrpc).events, truth.size());  // the /w/ watcher alone saw every revision
  for (auto& w : watchers) w->Stop();
  EXPECT_EQ(registry.stream_count(), 0u);
}

}  // namespace
}  // namespace agent::etcd
