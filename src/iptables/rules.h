// The NAT rules that send a pod's TCP traffic through APISIX, as the original agent built them
// (same chains, same rules, same order — reference/original-agent.md), plus the agent's own
// ports kept out of "*" capture. Pure: no I/O; the same plan prints (--dry-run), applies and
// cleans up.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/iptables_config.h"

namespace agent::iptables {

inline constexpr char kRedirectChain[] = "APISIX_REDIRECT";
inline constexpr char kInboundRedirectChain[] = "APISIX_INBOUND_REDIRECT";
inline constexpr char kInboundChain[] = "APISIX_INBOUND";

enum class Family { kIpv4, kIpv6 };

// One rule of the nat table: the chain it is appended to and its match/target arguments.
struct Rule {
  std::string chain;
  std::vector<std::string> spec;
  bool operator==(const Rule&) const = default;
};

struct RulePlan {
  std::vector<std::string> chains;  // created, in order
  std::vector<Rule> rules;          // appended, in order
};

RulePlan BuildPlan(const config::IptablesConfig& config, uint32_t uid, uint32_t gid, Family family);

bool IsOwnChain(const std::string& chain);

// "iptables -t nat -N APISIX_REDIRECT", …: the commands of the plan, as the original printed them.
std::vector<std::string> FormatCommands(const RulePlan& plan, const std::string& binary);
// What of ours is already in a nat table: built-in chains' rules and our chains.
struct Installed {
  std::vector<Rule> builtin_rules;
  std::vector<std::string> chains;
  bool empty() const { return builtin_rules.empty() && chains.empty(); }
};

// `iptables-restore --noflush` input that applies the plan in one transaction, replacing what is
// installed (a re-run replaces, never duplicates).
std::string RenderApply(const RulePlan& plan, const Installed& installed);
// The same for removing everything installed; and the equivalent commands for --dry-run.
std::string RenderCleanup(const Installed& installed);
std::vector<std::string> FormatCleanupCommands(const Installed& installed, const std::string& binary);

// Reads `iptables-save -t nat` output: our chains, the built-in chains' rules jumping to them,
// and — when our chains are there — the RETURN rules of our shapes in OUTPUT (owner uid/gid,
// excluded ports), whatever flags the run that added them had.
Installed ParseSaved(const std::string& saved);

std::string Join(const Rule& rule);  // "-A CHAIN spec…"

// The proxy user the installed RETURN rules exempt from capture (unset: no such rule).
struct Exemption {
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};
Exemption FindExemption(const Installed& installed);

}  // namespace agent::iptables
