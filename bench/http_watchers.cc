#include "bench/http_watchers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/escaping.h"

namespace agent::bench {

int ConnectWatch(const std::string& host, int port, const std::string& key, const std::string& range_end) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const std::string body = "{\"create_request\":{\"key\":\"" + absl::Base64Escape(key) + "\",\"range_end\":\"" +
                           absl::Base64Escape(range_end) + "\"}}";
  const std::string request = "POST /v3/watch HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

namespace {

// Messages with events in what a watcher received so far ("events" only appears in them).
int CountEvents(const std::string& data) {
  int n = 0;
  for (size_t at = data.find("\"events\""); at != std::string::npos; at = data.find("\"events\"", at + 1)) ++n;
  return n;
}

}  // namespace

bool HttpWatchers::Open(const std::string& host, int port, const std::string& key, const std::string& range_end,
                        int count) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  watchers_.resize(count);
  for (int i = 0; i < count; ++i) {
    Watcher& w = watchers_[i];
    w.fd = ConnectWatch(host, port, key, range_end);
    if (w.fd < 0) return false;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epoll_, EPOLL_CTL_ADD, w.fd, &event);
  }
  // Created: the first chunk of every stream arrived.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    Pump(100);
    int created = 0;
    for (const Watcher& w : watchers_) created += w.buffer.find("\"created\":true") != std::string::npos;
    if (created == count) break;
    if (Clock::now() > deadline) return false;
  }
  for (Watcher& w : watchers_) w.events_seen = CountEvents(w.buffer);
  return true;
}

int HttpWatchers::Pump(int timeout_ms) {
  epoll_event events[256];
  const int n = epoll_wait(epoll_, events, 256, timeout_ms);
  char buffer[16384];
  int progressed = 0;
  for (int i = 0; i < n; ++i) {
    Watcher& w = watchers_[events[i].data.u32];
    const ssize_t got = read(w.fd, buffer, sizeof(buffer));
    if (got <= 0) continue;
    w.buffer.append(buffer, static_cast<size_t>(got));
    ++progressed;
  }
  return progressed;
}

std::vector<HttpWatchers::Clock::time_point> HttpWatchers::AwaitEvent(std::chrono::milliseconds timeout) {
  ++round_;
  std::vector<Clock::time_point> arrived(watchers_.size());
  size_t done = 0;
  const auto deadline = Clock::now() + timeout;
  while (done < watchers_.size() && Clock::now() < deadline) {
    epoll_event events[256];
    const int n = epoll_wait(epoll_, events, 256, 50);
    const auto now = Clock::now();
    char buffer[16384];
    for (int i = 0; i < n; ++i) {
      Watcher& w = watchers_[events[i].data.u32];
      const ssize_t got = read(w.fd, buffer, sizeof(buffer));
      if (got <= 0) continue;
      w.buffer.append(buffer, static_cast<size_t>(got));
      if (arrived[events[i].data.u32] == Clock::time_point{} && CountEvents(w.buffer) > w.events_seen) {
        arrived[events[i].data.u32] = now;
        ++done;
      }
    }
  }
  for (Watcher& w : watchers_) {
    w.events_seen = CountEvents(w.buffer);
    if (w.buffer.size() > 65536) {  // keep memory flat over many rounds
      w.buffer.clear();
      w.events_seen = 0;
    }
  }
  return arrived;
}

void HttpWatchers::Close() {
  for (Watcher& w : watchers_) {
    if (w.fd >= 0) close(w.fd);
  }
  watchers_.clear();
  if (epoll_ >= 0) close(epoll_);
  epoll_ = -1;
}

}  // namespace agent::bench
