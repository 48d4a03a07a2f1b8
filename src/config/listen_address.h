#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace agent::config {

// An IP literal and a port, as taken by --grpc-listen ("127.0.0.1:2379", "[::1]:2379").
struct ListenAddress {
  std::string ip;
  uint16_t port = 0;

  std::string ToString() const;  // the form it was given in, brackets restored for IPv6
};

// Rejects host names: the agent binds exactly where it is told, as the original did.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

}  // namespace agent::config
