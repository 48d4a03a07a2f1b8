// The `iptables` and `cleanup-iptables` sub-commands' settings: the original agent's flags and
// defaults, plus the agent's own ports (never captured) and the IP families to program.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}

namespace agent::config {

// A --*-ports value: "*" (every port), a list, or empty (no capture in that direction).
struct PortSelection {
  bool all = false;
  std::vector<int> ports;
  bool empty() const { return !all && ports.empty(); }
};

// Parses "*", "" or "80,443,9080"; the error names the flag and the bad entry.
absl::StatusOr<PortSelection> ParsePortSelection(const std::string& flag, const std::string& text);
absl::StatusOr<std::vector<int>> ParsePortList(const std::string& flag, const std::string& text);

// The user APISIX's workers run as, whose connections the interception never captures: one
// default for `iptables --apisix-user` and bundle mode's nginx `user` (and the injection template).
inline constexpr char kDefaultApisixUser[] = "nobody";

struct IptablesConfig {
  int apisix_port = 9080;
  int apisix_inbound_capture_port = 9081;
  std::string inbound_ports;
  std::string inbound_exclude_ports;
  std::string outbound_ports;
  std::string outbound_exclude_ports;
  std::string apisix_user = kDefaultApisixUser;
  std::string inbound_interception_mode = "REDIRECT";
  // The agent's own ports, kept out of "*" capture in both directions: its etcd API (2379, or
  // 17739 in the original injection template), the health endpoint and istiod's xDS ports.
  std::string agent_ports = "2379,17739,15010,15012,15021";
  std::string ipv6 = "auto";  // auto (when the pod has a global IPv6 address) | on | off
  bool dry_run = false;

  // Filled by Validate().
  PortSelection inbound, outbound;
  std::vector<int> inbound_exclude, outbound_exclude, agent;
};

void RegisterIptablesFlags(CLI::App& app, IptablesConfig& config, bool cleanup);
absl::Status Validate(IptablesConfig& config);

}  // namespace agent::config
