// Programs one IP family's nat table with a RulePlan: apply in one iptables-restore transaction
// (a failure leaves nothing half-applied; a re-run replaces rather than duplicates), and clean up
// exactly what an earlier run installed — never the built-in chains themselves.
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

  // What of ours is installed now, read from iptables-save (ParseSaved).
  absl::StatusOr<Installed> Find();
  absl::Status Apply(const RulePlan& plan);
  // Removes what is installed, whatever flags installed it; returns the equivalent commands
  // (empty: nothing was there).
  absl::StatusOr<std::vector<std::string>> Cleanup(bool dry_run);

 private:
  absl::Status Restore(const std::string& input);

  CommandRunner& runner_;
  std::string binary_, save_, restore_;
};

}  // namespace agent::iptables
