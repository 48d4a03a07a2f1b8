#include "config/iptables_config.h"

#include "CLI/CLI.hpp"
#include "config/flag_checks.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace agent::config {

absl::StatusOr<std::vector<int>> ParsePortList(const std::string& flag, const std::string& text) {
  std::vector<int> ports;
  if (absl::StripAsciiWhitespace(text).empty()) return ports;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    int port = 0;
    if (!absl::SimpleAtoi(entry, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": \"", entry, "\" is not a port (1-65535) in \"", text, "\""));
    }
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
  }
  return ports;
}

absl::StatusOr<PortSelection> ParsePortSelection(const std::string& flag, const std::string& text) {
  PortSelection selection;
  if (absl::StripAsciiWhitespace(text) == "*") {
    selection.all = true;
    return selection;
  }
  auto ports = ParsePortList(flag, text);
  if (!ports.ok()) return absl::InvalidArgumentError(absl::StrCat(ports.status().message(), " (or use \"*\")"));
  selection.ports = std::move(*ports);
  return selection;
}

void RegisterIptablesFlags(CLI::App& app, IptablesConfig& c, bool cleanup) {
  app.add_option("--apisix-port", c.apisix_port, "APISIX's port for captured outbound traffic")->capture_default_str();
  app.add_option("--apisix-inbound-capture-port", c.apisix_inbound_capture_port,
                 "APISIX's port for captured inbound traffic")
      ->capture_default_str();
  app.add_option("--inbound-ports", c.inbound_ports, "inbound ports to capture: a comma list or \"*\" (empty: none)");
  app.add_option("--inbound-exclude-ports", c.inbound_exclude_ports, "with --inbound-ports \"*\": ports left alone");
  app.add_option("--outbound-ports", c.outbound_ports, "outbound ports to capture: a comma list or \"*\" (empty: none)");
  app.add_option("--outbound-exclude-ports", c.outbound_exclude_ports, "with --outbound-ports \"*\": ports left alone");
  app.add_option("--apisix-user", c.apisix_user, "user APISIX runs as; its traffic (uid and gid) is never captured")
      ->capture_default_str();
  app.add_option("--inbound-interception-mode", c.inbound_interception_mode, "REDIRECT (the only mode supported)")
      ->capture_default_str();
  app.add_option("--agent-ports", c.agent_ports,
                 "the agent's own ports, kept out of \"*\" capture both ways (etcd API, health, istiod xDS)")
      ->capture_default_str();
  app.add_option("--ipv6", c.ipv6, "also program ip6tables: auto (when the pod has a global IPv6 address) | on | off")
      ->capture_default_str();
  app.add_flag("--dry-run", c.dry_run,
               cleanup ? "print the commands that remove the rules instead of running them"
                       : "print the commands instead of applying the rules");
}

absl::Status Validate(IptablesConfig& c) {
  if (auto s = CheckPort("--apisix-port", c.apisix_port); !s.ok()) return s;
  if (auto s = CheckPort("--apisix-inbound-capture-port", c.apisix_inbound_capture_port); !s.ok()) return s;
  if (c.inbound_interception_mode != "REDIRECT") {
    return absl::InvalidArgumentError(absl::StrCat("--inbound-interception-mode: \"", c.inbound_interception_mode,
                                                   "\" is not supported (accepted: REDIRECT)"));
  }
  if (auto s = CheckOneOf("--ipv6", c.ipv6, {"auto", "on", "off"}); !s.ok()) return s;
  if (c.apisix_user.empty()) return absl::InvalidArgumentError("--apisix-user: must name a user (or a numeric uid)");
  auto inbound = ParsePortSelection("--inbound-ports", c.inbound_ports);
  if (!inbound.ok()) return inbound.status();
  auto outbound = ParsePortSelection("--outbound-ports", c.outbound_ports);
  if (!outbound.ok()) return outbound.status();
  auto inbound_exclude = ParsePortList("--inbound-exclude-ports", c.inbound_exclude_ports);
  if (!inbound_exclude.ok()) return inbound_exclude.status();
  auto outbound_exclude = ParsePortList("--outbound-exclude-ports", c.outbound_exclude_ports);
  if (!outbound_exclude.ok()) return outbound_exclude.status();
  auto agent = ParsePortList("--agent-ports", c.agent_ports);
  if (!agent.ok()) return agent.status();
  if (!inbound_exclude->empty() && !inbound->all) {
    return absl::InvalidArgumentError("--inbound-exclude-ports: only meaningful with --inbound-ports \"*\"");
  }
  if (!outbound_exclude->empty() && !outbound->all) {
    return absl::InvalidArgumentError("--outbound-exclude-ports: only meaningful with --outbound-ports \"*\"");
  }
  c.inbound = std::move(*inbound);
  c.outbound = std::move(*outbound);
  c.inbound_exclude = std::move(*inbound_exclude);
  c.outbound_exclude = std::move(*outbound_exclude);
  c.agent = std::move(*agent);
  return absl::OkStatus();
}

}  // namespace agent::config
