// A connected socket's peer in gRPC's notation ("ipv4:127.0.0.1:5555", "ipv6:[::1]:5555"), so
// that both transports name clients alike. gRPC itself says only "fd:N" for the connections the
// server hands it (one port for both protocols), hence the socket is asked.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace agent::etcd {

// "" when the socket has no peer (closed, not connected).
std::string PeerNameOfSocket(int fd);

// gRPC's peer string, with "fd:N" resolved through the socket.
std::string PeerNameOfGrpc(absl::string_view grpc_peer);

}  // namespace agent::etcd
