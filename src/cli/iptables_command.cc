#include "cli/iptables_command.h"

#include <iostream>

#include "iptables/host.h"
#include "iptables/interceptor.h"

namespace agent::cli {

namespace {

constexpr char kPrivilegeError[] =
    "Error: changing the nat table needs root or CAP_NET_ADMIN (in Kubernetes: an init container with "
    "securityContext.capabilities.add [NET_ADMIN])\n";

std::vector<iptables::Family> Families(const config::IptablesConfig& config) {
  std::vector<iptables::Family> families = {iptables::Family::kIpv4};
  if (config.ipv6 == "on" || (config.ipv6 == "auto" && iptables::HasGlobalIpv6())) {
    families.push_back(iptables::Family::kIpv6);
  }
  return families;
}

// Validation and the proxy user, shared by both commands; 0 when the plan can be built.
int Prepare(config::IptablesConfig& config, iptables::UserIds& ids) {
  if (auto s = config::Validate(config); !s.ok()) {
    std::cerr << "Error: " << s.message() << "\n";
    return 2;
  }
  auto user = iptables::LookupUser(config.apisix_user);
  if (!user.ok()) {
    std::cerr << "Error: " << user.status().message() << "\n";
    return 2;
  }
  ids = *user;
  return 0;
}

}  // namespace

int RunIptables(config::IptablesConfig config) {
  iptables::UserIds ids;
  if (int rc = Prepare(config, ids); rc != 0) return rc;
  const auto families = Families(config);
  if (config.dry_run) {
    for (auto family : families) {
      const auto plan = iptables::BuildPlan(config, ids.uid, ids.gid, family);
      for (const auto& command : iptables::FormatCommands(plan, family == iptables::Family::kIpv4 ? "iptables" : "ip6tables")) {
        std::cout << command << "\n";
      }
    }
    return 0;
  }
  if (!iptables::HasNetAdmin()) {
    std::cerr << kPrivilegeError;
    return 1;
  }
  iptables::SystemCommandRunner runner;
  std::vector<iptables::Family> applied;
  for (auto family : families) {
    const auto plan = iptables::BuildPlan(config, ids.uid, ids.gid, family);
    iptables::Interceptor interceptor(runner, family);
    if (auto s = interceptor.Apply(plan); !s.ok()) {
      std::cerr << "Error: " << s.message() << "\n";
      // One family without the other would capture half the traffic: undo what was applied.
      for (auto done : applied) {
        iptables::Interceptor undo(runner, done);
        (void)undo.Cleanup(false);
      }
      return 1;
    }
    applied.push_back(family);
    std::cout << interceptor.binary() << ": " << plan.chains.size() << " chains and " << plan.rules.size()
              << " rules applied to the nat table\n";
  }
  return 0;
}

int RunCleanupIptables(config::IptablesConfig config) {
  // The flags of `iptables` are accepted (and checked) but not needed: what is ours is found in
  // the table itself.
  if (auto s = config::Validate(config); !s.ok()) {
    std::cerr << "Error: " << s.message() << "\n";
    return 2;
  }
  if (!iptables::HasNetAdmin()) {
    std::cerr << kPrivilegeError;
    return 1;
  }
  iptables::SystemCommandRunner runner;
  int rc = 0;
  for (auto family : Families(config)) {
    iptables::Interceptor interceptor(runner, family);
    auto commands = interceptor.Cleanup(config.dry_run);
    if (!commands.ok()) {
      std::cerr << "Error: " << commands.status().message() << "\n";
      rc = 1;
      continue;
    }
    if (commands->empty()) std::cout << interceptor.binary() << ": nothing of apisix-mesh-agent's to remove\n";
    for (const auto& command : *commands) std::cout << command << "\n";
  }
  return rc;
}

}  // namespace agent::cli
