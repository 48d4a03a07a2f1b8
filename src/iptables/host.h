// Facts about the host the interception rules are for: privileges, the proxy user's ids, IPv6.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace agent::iptables {

// Root, or CAP_NET_ADMIN in the effective set (an init container with NET_ADMIN).
bool HasNetAdmin();

struct UserIds {
  uint32_t uid = 0;
  uint32_t gid = 0;
};
// A user name or a numeric uid; the gid is the user's primary group.
absl::StatusOr<UserIds> LookupUser(const std::string& user);

// Whether any interface has a global IPv6 address (then ip6tables must be programmed too).
bool HasGlobalIpv6();

}  // namespace agent::iptables
