#include "etcd/peer_name.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace agent::etcd {

std::string PeerNameOfSocket(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return absl::StrCat("ipv4:", text, ":", ntohs(v4->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    return absl::StrCat("ipv6:[", text, "]:", ntohs(v6->sin6_port));
  }
  if (address.ss_family == AF_UNIX) return "unix:";
  return "";
}

std::string PeerNameOfGrpc(absl::string_view grpc_peer) {
  int fd = -1;
  if (absl::string_view number = grpc_peer; absl::ConsumePrefix(&number, "fd:") && absl::SimpleAtoi(number, &fd) && fd >= 0) {
    std::string resolved = PeerNameOfSocket(fd);
    if (!resolved.empty()) return resolved;
    return absl::StrCat("fd:", fd);
  }
  return std::string(grpc_peer);
}

}  // namespace agent::etcd
