#include "iptables/host.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace agent::iptables {

bool HasNetAdmin() {
  if (::geteuid() == 0) return true;
  std::ifstream status("/proc/self/status");
  constexpr int kCapNetAdmin = 12;
  for (std::string line; std::getline(status, line);) {
    absl::string_view view(line);
    if (!absl::ConsumePrefix(&view, "CapEff:")) continue;
    uint64_t caps = 0;
    return absl::SimpleHexAtoi(absl::StripAsciiWhitespace(view), &caps) && (caps >> kCapNetAdmin & 1) != 0;
  }
  return false;
}

absl::StatusOr<UserIds> LookupUser(const std::string& user) {
  uint32_t numeric = 0;
  passwd* entry = absl::SimpleAtoi(user, &numeric) ? ::getpwuid(numeric) : ::getpwnam(user.c_str());
  if (entry != nullptr) return UserIds{entry->pw_uid, entry->pw_gid};
  if (absl::SimpleAtoi(user, &numeric)) return UserIds{numeric, numeric};  // a uid without a passwd entry
  return absl::NotFoundError(absl::StrCat("--apisix-user: no such user \"", user, "\""));
}

bool HasGlobalIpv6() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET6) continue;
    const in6_addr& address = reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
    found = !IN6_IS_ADDR_LOOPBACK(&address) && !IN6_IS_ADDR_LINKLOCAL(&address);
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace agent::iptables
