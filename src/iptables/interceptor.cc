#include "iptables/interceptor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace agent::iptables {

Interceptor::Interceptor(CommandRunner& runner, Family family)
    : runner_(runner),
      binary_(family == Family::kIpv4 ? "iptables" : "ip6tables"),
      save_(binary_ + "-save"),
      restore_(binary_ + "-restore") {}

absl::StatusOr<Installed> Interceptor::Find(const RulePlan& plan) {
  CommandResult saved = runner_.Run({save_, "-t", "nat"});
  if (saved.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(save_, " -t nat failed: ", absl::StripAsciiWhitespace(saved.output)));
  }
  Installed installed = ParseSaved(saved.output);
  for (const Rule& rule : BuiltinChainRules(plan)) {
    if (IsOwnChain(rule.spec.back())) continue;  // jumps to our chains were found in the save
    std::vector<std::string> check = {binary_, "-t", "nat", "-C", rule.chain};
    check.insert(check.end(), rule.spec.begin(), rule.spec.end());
    if (runner_.Run(check).exit_code == 0) installed.builtin_rules.push_back(rule);
  }
  return installed;
}

absl::Status Interceptor::Restore(const std::string& input) {
  CommandResult result = runner_.Run({restore_, "--noflush"}, input);
  if (result.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(restore_, " failed (nothing was changed): ",
                                               absl::StripAsciiWhitespace(result.output)));
  }
  return absl::OkStatus();
}

absl::Status Interceptor::Apply(const RulePlan& plan) {
  auto installed = Find(plan);
  if (!installed.ok()) return installed.status();
  return Restore(RenderApply(plan, *installed));
}

absl::StatusOr<std::vector<std::string>> Interceptor::Cleanup(const RulePlan& plan, bool dry_run) {
  auto installed = Find(plan);
  if (!installed.ok()) return installed.status();
  if (installed->empty()) return std::vector<std::string>();
  if (!dry_run) {
    if (auto s = Restore(RenderCleanup(*installed)); !s.ok()) return s;
  }
  return FormatCleanupCommands(*installed, binary_);
}

}  // namespace agent::iptables
