#include "bench/http_watchers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

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

constexpr std::string_view kCreated = "\"created\":true";
constexpr std::string_view kEvents = "\"events\"";

// Occurrences of `marker` in `text` that reach past its first `seen` bytes (those were counted
// when they arrived).
int CountNew(std::string_view text, std::string_view marker, size_t seen) {
  int n = 0;
  const size_t from = seen >= marker.size() ? seen - marker.size() + 1 : 0;
  for (size_t at = text.find(marker, from); at != std::string_view::npos; at = text.find(marker, at + 1)) ++n;
  return n;
}

}  // namespace

void HttpWatchers::Receive(Watcher& w, const char* data, size_t size) {
  const size_t seen = w.tail.size();
  w.tail.append(data, size);
  w.created += CountNew(w.tail, kCreated, seen);
  w.events += CountNew(w.tail, kEvents, seen);
  const size_t keep = std::max(kCreated.size(), kEvents.size()) - 1;
  if (w.tail.size() > keep) w.tail.erase(0, w.tail.size() - keep);
}

template <typename OnRead>
void HttpWatchers::Pump(int timeout_ms, OnRead on_read) {
  epoll_event events[256];
  const int n = epoll_wait(epoll_, events, 256, timeout_ms);
  const Clock::time_point now = Clock::now();  // when the data was there, however long the reads take
  char buffer[16384];
  for (int i = 0; i < n; ++i) {
    const uint32_t index = events[i].data.u32;
    Watcher& w = watchers_[index];
    const ssize_t got = read(w.fd, buffer, sizeof(buffer));
    if (got <= 0) continue;
    Receive(w, buffer, static_cast<size_t>(got));
    on_read(index, now);
  }
}

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
  std::vector<bool> counted(watchers_.size());
  int created = 0;
  while (created < count) {
    if (Clock::now() > deadline) return false;
    Pump(100, [&](uint32_t index, Clock::time_point) {
      if (!counted[index] && watchers_[index].created > 0) {
        counted[index] = true;
        ++created;
      }
    });
  }
  return true;
}

std::vector<HttpWatchers::Clock::time_point> HttpWatchers::AwaitEvent(std::chrono::milliseconds timeout) {
  std::vector<int> before(watchers_.size());
  for (size_t i = 0; i < watchers_.size(); ++i) before[i] = watchers_[i].events;
  std::vector<Clock::time_point> arrived(watchers_.size());
  size_t done = 0;
  const auto deadline = Clock::now() + timeout;
  while (done < watchers_.size() && Clock::now() < deadline) {
    Pump(50, [&](uint32_t index, Clock::time_point now) {
      if (arrived[index] == Clock::time_point{} && watchers_[index].events > before[index]) {
        arrived[index] = now;
        ++done;
      }
    });
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
