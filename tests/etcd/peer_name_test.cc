#include "etcd/peer_name.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace agent::etcd {
namespace {

// A client connected to a listener on loopback: the accepted socket names the client.
TEST(PeerNameTest, AnAcceptedTcpSocketNamesItsClientAsGrpcDoes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  sockaddr_in local{};
  length = sizeof(local);
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &length), 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  const std::string expected = absl::StrCat("ipv4:127.0.0.1:", ntohs(local.sin_port));
  EXPECT_EQ(PeerNameOfSocket(accepted), expected);
  EXPECT_EQ(PeerNameOfGrpc(absl::StrCat("fd:", accepted)), expected);  // how gRPC names handed-over sockets
  ::close(accepted);
  ::close(client);
  ::close(listener);
}

TEST(PeerNameTest, OtherPeersAreKeptAndUnknownSocketsSaySo) {
  EXPECT_EQ(PeerNameOfGrpc("ipv6:[::1]:4000"), "ipv6:[::1]:4000");
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_EQ(PeerNameOfSocket(pair[0]), "unix:");
  ::close(pair[0]);
  ::close(pair[1]);
  EXPECT_EQ(PeerNameOfSocket(pair[0]), "");  // closed
  EXPECT_EQ(PeerNameOfGrpc(absl::StrCat("fd:", pair[0])), absl::StrCat("fd:", pair[0]));
  EXPECT_EQ(PeerNameOfGrpc("fd:x"), "fd:x");
}

}  // namespace
}  // namespace agent::etcd
