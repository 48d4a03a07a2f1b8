// Runs iptables binaries. An interface so the interception logic is tested against a fake, and a
// system implementation (fork/exec, no shell) for real use.
#pragma once

#include <string>
#include <vector>

namespace agent::iptables {

struct CommandResult {
  int exit_code = -1;  // -1: could not run
  std::string output;  // stdout and stderr
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  virtual CommandResult Run(const std::vector<std::string>& argv, const std::string& input = "") = 0;
};

class SystemCommandRunner final : public CommandRunner {
 public:
  CommandResult Run(const std::vector<std::string>& argv, const std::string& input = "") override;
};

}  // namespace agent::iptables
