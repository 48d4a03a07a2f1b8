#include "iptables/rules.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace agent::iptables {

namespace {

std::vector<std::string> Spec(std::initializer_list<std::string> parts) { return parts; }

}  // namespace

RulePlan BuildPlan(const config::IptablesConfig& c, uint32_t uid, uint32_t gid, Family family) {
  RulePlan plan;
  const bool inbound = !c.inbound.empty();
  plan.chains = {kRedirectChain, kInboundRedirectChain};
  if (inbound) plan.chains.push_back(kInboundChain);
  const std::string loopback = family == Family::kIpv4 ? "127.0.0.1/32" : "::1/128";
  auto& r = plan.rules;
  r.push_back({kRedirectChain, Spec({"-p", "tcp", "-j", "REDIRECT", "--to-ports", std::to_string(c.apisix_port)})});
  r.push_back({kInboundRedirectChain,
               Spec({"-p", "tcp", "-j", "REDIRECT", "--to-ports", std::to_string(c.apisix_inbound_capture_port)})});
  // APISIX's own traffic is never captured: by uid (to others over lo) and by gid (everything).
  r.push_back({"OUTPUT", Spec({"-o", "lo", "!", "-d", loopback, "-m", "owner", "--uid-owner", std::to_string(uid), "-j",
                               "RETURN"})});
  r.push_back({"OUTPUT", Spec({"-m", "owner", "--gid-owner", std::to_string(gid), "-j", "RETURN"})});

  // Exclusions before the catch-all: the user's, then the agent's own ports not already listed.
  auto exclusions = [&](const std::vector<int>& user) {
    std::vector<int> ports = user;
    for (int port : c.agent) {
      if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
    }
    return ports;
  };
  if (inbound) {
    r.push_back({"PREROUTING", Spec({"-p", "tcp", "-j", kInboundChain})});
    if (c.inbound.all) {
      r.push_back({kInboundChain, Spec({"-p", "tcp", "--dport", "22", "-j", "RETURN"})});  // ssh stays reachable
      for (int port : exclusions(c.inbound_exclude)) {
        if (port == 22) continue;
        r.push_back({kInboundChain, Spec({"-p", "tcp", "--dport", std::to_string(port), "-j", "RETURN"})});
      }
      r.push_back({kInboundChain, Spec({"-p", "tcp", "-j", kInboundRedirectChain})});
    } else {
      for (int port : c.inbound.ports) {
        r.push_back({kInboundChain, Spec({"-p", "tcp", "--dport", std::to_string(port), "-j", kInboundRedirectChain})});
      }
    }
  }
  if (c.outbound.all) {
    for (int port : exclusions(c.outbound_exclude)) {
      r.push_back({"OUTPUT", Spec({"-p", "tcp", "--dport", std::to_string(port), "-j", "RETURN"})});
    }
    r.push_back({"OUTPUT", Spec({"-p", "tcp", "-j", kRedirectChain})});
  } else {
    for (int port : c.outbound.ports) {
      r.push_back({"OUTPUT", Spec({"-p", "tcp", "--dport", std::to_string(port), "-j", kRedirectChain})});
    }
  }
  return plan;
}

bool IsOwnChain(const std::string& chain) {
  return chain == kRedirectChain || chain == kInboundRedirectChain || chain == kInboundChain;
}

std::string Join(const Rule& rule) { return absl::StrCat("-A ", rule.chain, " ", absl::StrJoin(rule.spec, " ")); }

std::vector<std::string> FormatCommands(const RulePlan& plan, const std::string& binary) {
  std::vector<std::string> commands;
  for (const std::string& chain : plan.chains) commands.push_back(absl::StrCat(binary, " -t nat -N ", chain));
  for (const Rule& rule : plan.rules) commands.push_back(absl::StrCat(binary, " -t nat ", Join(rule)));
  return commands;
}

namespace {

std::string Spec(const Rule& rule) { return absl::StrJoin(rule.spec, " "); }

}  // namespace

std::string RenderApply(const RulePlan& plan, const Installed& installed) {
  std::string out = "*nat\n";
  // Declaring a user chain creates it, or (with --noflush) empties it: re-runs start clean.
  for (const std::string& chain : plan.chains) absl::StrAppend(&out, ":", chain, " - [0:0]\n");
  for (const Rule& rule : installed.builtin_rules) absl::StrAppend(&out, "-D ", rule.chain, " ", Spec(rule), "\n");
  for (const std::string& chain : installed.chains) {  // ours from an earlier run that this plan no longer uses
    if (std::find(plan.chains.begin(), plan.chains.end(), chain) != plan.chains.end()) continue;
    absl::StrAppend(&out, "-F ", chain, "\n-X ", chain, "\n");
  }
  for (const Rule& rule : plan.rules) absl::StrAppend(&out, Join(rule), "\n");
  absl::StrAppend(&out, "COMMIT\n");
  return out;
}

std::string RenderCleanup(const Installed& installed) {
  std::string out = "*nat\n";
  for (const Rule& rule : installed.builtin_rules) absl::StrAppend(&out, "-D ", rule.chain, " ", Spec(rule), "\n");
  for (const std::string& chain : installed.chains) absl::StrAppend(&out, "-F ", chain, "\n");
  for (const std::string& chain : installed.chains) absl::StrAppend(&out, "-X ", chain, "\n");
  absl::StrAppend(&out, "COMMIT\n");
  return out;
}

std::vector<std::string> FormatCleanupCommands(const Installed& installed, const std::string& binary) {
  std::vector<std::string> commands;
  for (const Rule& rule : installed.builtin_rules) {
    commands.push_back(absl::StrCat(binary, " -t nat -D ", rule.chain, " ", Spec(rule)));
  }
  for (const std::string& chain : installed.chains) commands.push_back(absl::StrCat(binary, " -t nat -F ", chain));
  for (const std::string& chain : installed.chains) commands.push_back(absl::StrCat(binary, " -t nat -X ", chain));
  return commands;
}

namespace {

// The shapes of our RETURN rules in OUTPUT as iptables-save prints them: the proxy user's uid
// and gid, and excluded ports.
bool IsOurReturnShape(const std::vector<std::string>& t) {
  if (t.empty() || t[0] != "OUTPUT" || t.size() < 3 || t[t.size() - 2] != "-j" || t.back() != "RETURN") return false;
  const std::vector<std::string> match(t.begin() + 1, t.end() - 2);
  const bool uid = match.size() == 9 && match[0] == "!" && match[1] == "-d" &&
                   (match[2] == "127.0.0.1/32" || match[2] == "::1/128") && match[3] == "-o" && match[4] == "lo" &&
                   match[5] == "-m" && match[6] == "owner" && match[7] == "--uid-owner";
  const bool gid = match.size() == 4 && match[0] == "-m" && match[1] == "owner" && match[2] == "--gid-owner";
  const bool port = match.size() == 6 && match[0] == "-p" && match[1] == "tcp" && match[2] == "-m" && match[3] == "tcp" &&
                    match[4] == "--dport";
  return uid || gid || port;
}

}  // namespace

Installed ParseSaved(const std::string& saved) {
  Installed installed;
  std::vector<std::vector<std::string>> returns;
  for (absl::string_view line : absl::StrSplit(saved, '\n')) {
    if (absl::ConsumePrefix(&line, ":")) {
      std::string chain(line.substr(0, line.find(' ')));
      if (IsOwnChain(chain)) installed.chains.push_back(chain);
      continue;
    }
    if (!absl::ConsumePrefix(&line, "-A ")) continue;
    std::vector<std::string> tokens = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (tokens.size() < 3 || IsOwnChain(tokens[0])) continue;
    if (IsOurReturnShape(tokens)) {
      returns.push_back(std::move(tokens));
      continue;
    }
    auto jump = std::find(tokens.begin(), tokens.end(), "-j");
    if (jump == tokens.end() || std::next(jump) == tokens.end() || !IsOwnChain(*std::next(jump))) continue;
    installed.builtin_rules.push_back({tokens[0], std::vector<std::string>(tokens.begin() + 1, tokens.end())});
  }
  // RETURN rules of these shapes are ours when our chains are there (whatever flags the earlier
  // run had): in a pod's network namespace nothing else adds them.
  if (!installed.chains.empty()) {
    for (auto& tokens : returns) {
      installed.builtin_rules.push_back({tokens[0], std::vector<std::string>(tokens.begin() + 1, tokens.end())});
    }
  }
  // Our chains in dependency order, so -X never meets a chain still referenced.
  std::sort(installed.chains.begin(), installed.chains.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& c) { return c == kInboundChain ? 0 : 1; };
    return rank(a) < rank(b);
  });
  return installed;
}

}  // namespace agent::iptables

namespace agent::iptables {

Exemption FindExemption(const Installed& installed) {
  Exemption exemption;
  for (const Rule& rule : installed.builtin_rules) {
    for (size_t i = 0; i + 1 < rule.spec.size(); ++i) {
      uint32_t id = 0;
      if (!absl::SimpleAtoi(rule.spec[i + 1], &id)) continue;
      if (rule.spec[i] == "--uid-owner") exemption.uid = id;
      if (rule.spec[i] == "--gid-owner") exemption.gid = id;
    }
  }
  return exemption;
}

}  // namespace agent::iptables
