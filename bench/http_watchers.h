// Many HTTP/1.1 watch connections on one epoll loop, as APISIX's workers hold them: each posts a
// /v3/watch create request and then receives the chunked stream. Used for the fan-out latency and
// the memory per idle watch of the benchmarks.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace agent::bench {

class HttpWatchers {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens `count` watches on [key, range_end) of the gateway at host:port; returns once every one
  // has been created (false on error or after 30 s).
  bool Open(const std::string& host, int port, const std::string& key, const std::string& range_end, int count);
  // Waits until every watcher received one more message with events, at most `timeout`; returns
  // each watcher's arrival time (time_point{} for the ones that did not get it).
  std::vector<Clock::time_point> AwaitEvent(std::chrono::milliseconds timeout);
  void Close();
  ~HttpWatchers() { Close(); }

 private:
  struct Watcher {
    int fd = -1;
    std::string buffer;
    int events_seen = 0;
  };
  int Pump(int timeout_ms);  // reads whatever is ready; returns how many watchers saw a new event

  int epoll_ = -1;
  std::vector<Watcher> watchers_;
  int round_ = 0;
};

// Connects to the gateway at host:port and sends a /v3/watch create request for [key, range_end),
// as lua-resty-etcd does (TCP_NODELAY). Returns the socket, or -1.
int ConnectWatch(const std::string& host, int port, const std::string& key, const std::string& range_end);

}  // namespace agent::bench
