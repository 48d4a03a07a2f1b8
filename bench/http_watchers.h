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
    // The stream is scanned as it arrives (each byte once): the load client must cost the same
    // small amount per message against every server, or it measures itself. Only the last bytes
    // are kept, for a marker split across two reads.
    std::string tail;
    int created = 0;  // messages with "created":true so far
    int events = 0;   // messages with events so far ("events" only appears in them)
  };
  // Reads what is ready (waiting at most `timeout_ms`); `on_read(index, when)` for each watcher
  // read, `when` being the time the wait returned.
  template <typename OnRead>
  void Pump(int timeout_ms, OnRead on_read);
  static void Receive(Watcher& w, const char* data, size_t size);

  int epoll_ = -1;
  std::vector<Watcher> watchers_;
};

// Connects to the gateway at host:port and sends a /v3/watch create request for [key, range_end),
// as lua-resty-etcd does (TCP_NODELAY). Returns the socket, or -1.
int ConnectWatch(const std::string& host, int port, const std::string& key, const std::string& range_end);

}  // namespace agent::bench
