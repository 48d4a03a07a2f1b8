#include "etcd/watch_registry.h"

#include <algorithm>
#include <tuple>

#include "etcd/watch_stream.h"

namespace agent::etcd {

absl::string_view ProtocolName(WatchProtocol protocol) {
  return protocol == WatchProtocol::kHttp ? "http" : "grpc";
}

void WatchRegistry::Join(WatchStream* stream) {
  std::lock_guard lock(mutex_);
  streams_.insert(stream);
}

void WatchRegistry::Leave(WatchStream* stream) {
  std::lock_guard lock(mutex_);
  streams_.erase(stream);
}

std::vector<WatchStreamStatus> WatchRegistry::Streams() const {
  std::vector<WatchStreamStatus> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(streams_.size());
    for (WatchStream* stream : streams_) out.push_back(stream->Describe());
  }
  std::sort(out.begin(), out.end(), [](const WatchStreamStatus& a, const WatchStreamStatus& b) {
    return std::tie(a.protocol, a.peer, a.opened) < std::tie(b.protocol, b.peer, b.opened);
  });
  return out;
}

size_t WatchRegistry::stream_count() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

void WatchRegistry::RecordSent(WatchProtocol protocol, size_t events, size_t bytes) {
  Counters& c = sent_[static_cast<size_t>(protocol)];
  c.responses.fetch_add(1, std::memory_order_relaxed);
  c.events.fetch_add(events, std::memory_order_relaxed);
  c.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

WatchTraffic WatchRegistry::traffic(WatchProtocol protocol) const {
  const Counters& c = sent_[static_cast<size_t>(protocol)];
  return {c.responses.load(std::memory_order_relaxed), c.events.load(std::memory_order_relaxed),
          c.bytes.load(std::memory_order_relaxed)};
}

}  // namespace agent::etcd
