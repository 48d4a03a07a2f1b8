// Encode once, send many: one revision's events as every watcher of the same shape (range and
// filters) receives them, built once and shared. With a thousand APISIX workers watching
// `/apisix/`, a put used to be turned into a thousand identical protobufs and JSON documents that
// differed only in the watch id; now it is turned into one, and each watcher's own work is the id
// and the transport's framing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "store/kv_store.h"

namespace agent::etcd {

// What decides which of a revision's events a watcher receives, and how.
struct WatchShape {
  store::KeyRange range;
  bool prev_kv = false;
  bool no_put = false;
  bool no_delete = false;

  std::string CacheKey() const;
};

// One revision's events inside one shape. Immutable once built; the gateway JSON is made on first
// use (only HTTP watchers need it).
class SharedEvents {
 public:
  // nullptr when the shape filters out every event of the revision.
  static std::shared_ptr<const SharedEvents> Build(const store::Revision& revision, const WatchShape& shape,
                                                   const ClusterIdentity& identity);

  // Header and events; watch_id 0 (each watcher sets its own).
  const etcdserverpb::WatchResponse& response() const { return response_; }
  int64_t revision() const { return response_.header().revision(); }
  size_t event_count() const { return static_cast<size_t>(response_.events_size()); }
  // The memory the entry holds, its JSON included: the cache's measure.
  size_t bytes() const { return bytes_; }

 private:
  friend struct WatchMessage;
  friend class GatewayLinePieces;
  SharedEvents() = default;
  void MakeJson() const;  // json_head_ and json_tail_, once

  etcdserverpb::WatchResponse response_;
  size_t bytes_ = 0;
  mutable std::once_flag json_once_;
  mutable std::string json_head_;  // {"result":{"header":{…}
  mutable std::string json_tail_;  // ,"events":[…]}}\n
};

// What a watch stream hands its transport next: a message of its own (created, canceled, a
// compaction, a progress notification), or one revision's events shared with every watcher of the
// same shape, for watcher `watch_id`.
struct WatchMessage {
  std::optional<etcdserverpb::WatchResponse> own;
  std::shared_ptr<const SharedEvents> shared;
  int64_t watch_id = 0;
  bool exclusive = false;  // `shared` was built for this watcher alone and never handed to another

  size_t event_count() const { return shared ? shared->event_count() : static_cast<size_t>(own->events_size()); }
  etcdserverpb::WatchResponse Response() const;  // as a protobuf of its own
  // The same, moved out of the events when they are `exclusive` (a revision too large for the
  // cache: a mesh's first sync is not built twice for a gRPC watcher).
  etcdserverpb::WatchResponse TakeResponse() &&;
};

// A message's gateway line, `{"result":<response as JSON>}\n` (byte for byte what ToGatewayJson
// gives for its Response()), as the pieces it is written from, not joined: for shared events, the
// entry's head and tail (one text for every watcher) with this watcher's `,"watch_id":"N"` between
// them; a message of its own is one piece. A fan-out writes each watcher's line with one writev
// and no copy. Refers to the message's events: valid while the message lives.
class GatewayLinePieces {
 public:
  explicit GatewayLinePieces(const WatchMessage& message);
  GatewayLinePieces(const GatewayLinePieces&) = delete;
  GatewayLinePieces& operator=(const GatewayLinePieces&) = delete;

  const std::array<absl::string_view, 3>& pieces() const { return pieces_; }
  size_t size() const { return pieces_[0].size() + pieces_[1].size() + pieces_[2].size(); }
  std::string Joined() const;

 private:
  std::string own_;
  char id_member_[48];  // ,"watch_id":"<int64>"
  std::array<absl::string_view, 3> pieces_;
};

// The shared events of recent revisions, by shape. Watchers that share an entry read the same
// revision at about the same time (a fan-out), so a few recent entries are all that is useful: a
// watcher replaying history further back builds its own, as before. Bounded by entries and by
// bytes; a revision too large for the bound (a mesh's first sync) is built for each watcher
// instead, as the cache would otherwise pin megabytes until evicted. Thread-safe.
class WatchEventCache {
 public:
  explicit WatchEventCache(size_t max_entries = 16, size_t max_bytes = 4 * 1024 * 1024)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // `*kept` (optional) says whether the entry is the cache's, so possibly other watchers'; when
  // false it was built for the caller alone.
  std::shared_ptr<const SharedEvents> Get(const std::shared_ptr<const store::Revision>& revision,
                                          const WatchShape& shape, const ClusterIdentity& identity,
                                          bool* kept = nullptr);

  struct Stats {
    size_t hits = 0;
    size_t builds = 0;
    size_t entries = 0;
    size_t bytes = 0;
  };
  Stats stats() const;

 private:
  using Key = std::pair<int64_t, std::string>;
  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::mutex mutex_;
  std::map<Key, std::shared_ptr<const SharedEvents>> entries_;
  std::deque<Key> order_;  // insertion order, for eviction
  size_t bytes_ = 0;
  size_t hits_ = 0;
  size_t builds_ = 0;
};

}  // namespace agent::etcd
