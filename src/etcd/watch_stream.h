// One etcd watch stream (a gRPC Watch call or an HTTP /v3/watch response), independent of the
// transport: it takes WatchRequests and hands out WatchResponses when the transport is ready for
// one. Events are pulled from the store's history at the transport's pace, so a slow client only
// delays itself (DESIGN.md §5).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "etcd/watch_budget.h"
#include "etcd/watch_events.h"
#include "etcd/watch_registry.h"
#include "store/kv_store.h"

namespace agent::etcd {

class WatchStream {
 public:
  // `wake` is called, from any thread, when Next() may have a new message. It must not call Next()
  // synchronously while holding locks a store commit could wait on; transports post or re-check.
  // `context.budget` (optional, outliving the stream) caps watches on this stream and in all: a
  // create past either cap is answered `created` + `canceled` with the reason, as etcd refuses a
  // create. `context.registry` (optional, outliving the stream) lists the stream until Shutdown.
  WatchStream(store::KvStore& store, const ClusterIdentity& identity, std::function<void()> wake,
              WatchStreamContext context = {});
  ~WatchStream();

  void Handle(const etcdserverpb::WatchRequest& request);

  // The next message to send; nullopt when there is nothing to send now. Events come as one
  // revision's events shared with every watcher of the same shape (`context.events` caches them).
  std::optional<WatchMessage> NextMessage();
  // The same as a protobuf of its own.
  std::optional<etcdserverpb::WatchResponse> Next();

  // The transport sent a message of `events` events (`bytes` on the wire, framing aside): counted
  // in the registry's traffic.
  void Sent(size_t events, size_t bytes);

  // This stream's watchers and how far each has been sent (the registry's view).
  WatchStreamStatus Describe();

  // Drops every watcher and leaves the registry; after it returns, `wake` is no longer called.
  void Shutdown();

 private:
  struct Watcher {
    int64_t id = 0;
    WatchShape shape;
    int64_t next_revision = 0;
    std::unique_ptr<store::Subscription> subscription;
  };

  void Create(const etcdserverpb::WatchCreateRequest& request);
  void SkipQuietHistory(Watcher& w) const;
  void Cancel(int64_t watch_id);
  // Fills `out` with the watcher's next revision of events; false if it has none now. Sets
  // `compacted` when the watcher fell out of history and must be canceled.
  bool NextEvents(Watcher& watcher, WatchMessage& out, bool& compacted);
  bool AllSyncedLocked(int64_t current) const;
  // The first revision of the watcher's range not yet handed out; 0 when none waits (in sync).
  int64_t FirstPendingLocked(Watcher& w, int64_t current) const;

  store::KvStore& store_;
  const ClusterIdentity& identity_;
  std::function<void()> wake_;
  WatchBudget* const budget_;
  WatchRegistry* registry_;  // null once the stream has left it
  WatchEventCache* const events_;
  const WatchProtocol protocol_;
  const std::string peer_;
  const std::chrono::system_clock::time_point opened_ = std::chrono::system_clock::now();

  std::mutex mutex_;
  // Created / canceled, sent before events, from control_head_ on. Not a std::deque: libstdc++'s
  // allocates ~600 bytes for an empty one, and every idle watch stream would keep them.
  std::vector<etcdserverpb::WatchResponse> control_;
  size_t control_head_ = 0;
  std::map<int64_t, std::unique_ptr<Watcher>> watchers_;
  int64_t next_watch_id_ = 0;
  int64_t last_served_ = -1;  // round robin among watchers with pending events
  bool progress_requested_ = false;
};

}  // namespace agent::etcd
