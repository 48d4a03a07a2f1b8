#include "iptables/interceptor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace agent::iptables {

Interceptor::Interceptor(CommandRunner& runner, Family family)
    : runner_(runner),
      binary_(family == Family::kIpv4 ? "iptables" : "ip6tables"),
      save_(binary_ + "-save"),
      restore_(binary_ + "-restore") {}

absl::StatusOr<Installed> Interceptor::Find() {
  CommandResult saved = runner_.Run({save_, "-t", "nat"});
  if (saved.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(save_, " -t nat failed: ", absl::StripAsciiWhitespace(saved.output)));
  }
  return ParseSaved(saved.output);
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
  auto installed = Find();
  if (!installed.ok()) return installed.status();
  return Restore(RenderApply(plan, *installed));
}

absl::StatusOr<std::vector<std::string>> Interceptor::Cleanup(bool dry_run) {
  auto installed = Find();
  if (!installed.ok()) return installed.status();
  if (installed->empty()) return std::vector<std::string>();
  if (!dry_run) {
    if (auto s = Restore(RenderCleanup(*installed)); !s.ok()) return s;
  }
  return FormatCleanupCommands(*installed, binary_);
}

}  // namespace agent::iptables
