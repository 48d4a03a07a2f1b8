// How many watches clients may hold: per stream (one gRPC Watch call or one HTTP /v3/watch
// response) and in all. etcd 3.4 has no such caps — its send buffers stop it reading a client's
// creates once the client stops reading answers — but the agent's transports absorb them, so the
// bound is stated here instead (docs/etcd-compatibility.md, "limits").
#pragma once

#include <atomic>
#include <cstddef>

namespace agent::etcd {

struct WatchLimits {
  size_t per_stream = 10000;
  size_t total = 50000;
};

// The global count, shared by every stream of one server. Thread-safe.
class WatchBudget {
 public:
  explicit WatchBudget(WatchLimits limits = {}) : limits_(limits) {}
  WatchBudget(const WatchBudget&) = delete;
  WatchBudget& operator=(const WatchBudget&) = delete;

  const WatchLimits& limits() const { return limits_; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

  // One more watch, if the total allows it.
  bool TryAcquire() {
    size_t now = in_use_.load(std::memory_order_relaxed);
    do {
      if (now >= limits_.total) return false;
    } while (!in_use_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }
  void Release(size_t n = 1) { in_use_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  const WatchLimits limits_;
  std::atomic<size_t> in_use_{0};
};

}  // namespace agent::etcd
