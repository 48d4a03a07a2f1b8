// Programs one IP family's nat table with a RulePlan: apply in one iptables-restore transaction
// (a failure leaves nothing half-applied; a re-run replaces rather than duplicates), and clean up
// exactly what the plan (or an earlier run) installed — never the built-in chains themselves.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iptables/command_runner.h"
#include "iptables/rules.h"

namespace agent::iptables {

class Interceptor {
 public:
  Interceptor(CommandRunner& runner, Family family);

  const std::string& binary() const { return binary_; }  // iptables | ip6tables

  // What of ours is installed now: jumps to our chains and our chains from iptables-save, and the
  // plan's other built-in rules (the owner and port RETURNs) found with `-C`.
  absl::StatusOr<Installed> Find(const RulePlan& plan);
  absl::Status Apply(const RulePlan& plan);
  // Removes what is installed; returns the equivalent commands (empty: nothing was there).
  absl::StatusOr<std::vector<std::string>> Cleanup(const RulePlan& plan, bool dry_run);

 private:
  absl::Status Restore(const std::string& input);

  CommandRunner& runner_;
  std::string binary_, save_, restore_;
};

}  // namespace agent::iptables
