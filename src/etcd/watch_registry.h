// The server's live watch streams, for operators: which clients watch what, and how far each
// watcher has been sent (so "APISIX is behind" is visible in /syncz and the metrics), plus what the
// streams have sent in all. Transport-independent; every WatchStream given a registry joins it
// when built and leaves it when shut down. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "etcd/watch_budget.h"

namespace agent::etcd {

class WatchStream;
class WatchEventCache;

enum class WatchProtocol { kGrpc = 0, kHttp = 1 };
inline constexpr std::array<WatchProtocol, 2> kWatchProtocols = {WatchProtocol::kGrpc, WatchProtocol::kHttp};
absl::string_view ProtocolName(WatchProtocol protocol);  // "grpc" | "http"

struct WatcherStatus {
  int64_t id = 0;
  std::string key;
  std::string range_end;
  // Every event of the watcher's range up to this revision has been handed to its transport:
  // the store's current revision when nothing is pending for it.
  int64_t sent_revision = 0;
  bool pending = false;  // events of its range wait to be sent
};

struct WatchStreamStatus {
  WatchProtocol protocol = WatchProtocol::kGrpc;
  std::string peer;  // the client's address as the transport knows it
  std::chrono::system_clock::time_point opened;
  std::vector<WatcherStatus> watchers;
};

// What the streams of one protocol have sent since the process started (never reset).
struct WatchTraffic {
  uint64_t responses = 0;  // WatchResponses: created / canceled / progress / events
  uint64_t events = 0;     // events inside them
  uint64_t bytes = 0;      // protobuf bytes (gRPC) or JSON chunk bytes (HTTP)
};

class WatchRegistry {
 public:
  WatchRegistry() = default;
  WatchRegistry(const WatchRegistry&) = delete;
  WatchRegistry& operator=(const WatchRegistry&) = delete;

  void Join(WatchStream* stream);
  void Leave(WatchStream* stream);

  // Every live stream, described while it cannot leave. Sorted by protocol, then peer.
  std::vector<WatchStreamStatus> Streams() const;
  size_t stream_count() const;

  void RecordSent(WatchProtocol protocol, size_t events, size_t bytes);
  WatchTraffic traffic(WatchProtocol protocol) const;

 private:
  struct Counters {
    std::atomic<uint64_t> responses{0};
    std::atomic<uint64_t> events{0};
    std::atomic<uint64_t> bytes{0};
  };

  mutable std::mutex mutex_;  // held while describing; streams leave under it
  std::set<WatchStream*> streams_;
  std::array<Counters, kWatchProtocols.size()> sent_;
};

// What a stream shares with the server's other streams; every member optional.
struct WatchStreamContext {
  WatchBudget* budget = nullptr;
  WatchRegistry* registry = nullptr;
  WatchProtocol protocol = WatchProtocol::kGrpc;
  std::string peer;
  WatchEventCache* events = nullptr;  // optional, outliving the stream: events shared across streams
};

}  // namespace agent::etcd
