#include "absl/strings/string_view.h"
#include "config/listen_address.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace agent::config {

std::string ListenAddress::ToString() const {
  if (ip.find(':') != std::string::npos) return absl::StrCat("[", ip, "]:", port);
  return absl::StrCat(ip, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not IP:port (", why, ")"));
  };
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return invalid("missing port");
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  ListenAddress address;
  address.ip = std::string(host);
  unsigned char buf[16];
  bool is_v4 = inet_pton(AF_INET, address.ip.c_str(), buf) == 1;
  bool is_v6 = !is_v4 && inet_pton(AF_INET6, address.ip.c_str(), buf) == 1;
  if (!is_v4 && !is_v6) return invalid("the host must be an IPv4 or [IPv6] literal");
  uint32_t port = 0;
  // Port 0 asks the kernel for a free port (logged at start); tests use it.
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535) return invalid("port must be 0-65535");
  address.port = static_cast<uint16_t>(port);
  return address;
}

}  // namespace agent::config
