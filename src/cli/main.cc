// apisix-mesh-agent: sub-commands and their wiring.
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/iptables_command.h"
#include "cli/precheck_command.h"
#include "cli/sidecar_command.h"
#include "cli/status_command.h"
#include "common/heap.h"
#include "config/iptables_config.h"
#include "config/sidecar_config.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  agent::heap::Configure();  // before any thread: the allocator's settings (common/heap.h)
  CLI::App app{"apisix-mesh-agent: turns Apache APISIX into a service-mesh data plane"};
  app.require_subcommand(1);

  agent::config::SidecarConfig sidecar_config;
  CLI::App* sidecar = app.add_subcommand(
      "sidecar", "translate xDS into APISIX configuration and serve it over the etcd v3 API");
  agent::config::RegisterSidecarFlags(*sidecar, sidecar_config);

  agent::config::IptablesConfig iptables_config;
  CLI::App* iptables = app.add_subcommand("iptables", "redirect the pod's TCP traffic to APISIX (nat table)");
  agent::config::RegisterIptablesFlags(*iptables, iptables_config, false);
  agent::config::IptablesConfig cleanup_config;
  CLI::App* cleanup = app.add_subcommand("cleanup-iptables", "remove exactly the rules `iptables` added");
  agent::config::RegisterIptablesFlags(*cleanup, cleanup_config, true);

  agent::config::SidecarConfig precheck_config;
  CLI::App* precheck = app.add_subcommand(
      "precheck", "check APISIX's binary and home, iptables and privileges, and the agent's ports before bundle mode");
  agent::config::RegisterSidecarFlags(*precheck, precheck_config);

  CLI::App* version = app.add_subcommand("version", "print the version and exit");

  std::string status_admin = "127.0.0.1:15000";
  CLI::App* status = app.add_subcommand(
      "status", "ask a running agent's admin endpoint how it is synced (xDS per type, etcd, APISIX objects)");
  status->add_option("--admin-listen", status_admin, "the agent's admin endpoint, IP:port")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (version->parsed()) {
    std::cout << "apisix-mesh-agent " << AGENT_VERSION << "\n";
    return 0;
  }
  if (status->parsed()) return agent::cli::RunStatus(status_admin);
  if (iptables->parsed()) return agent::cli::RunIptables(std::move(iptables_config));
  if (cleanup->parsed()) return agent::cli::RunCleanupIptables(std::move(cleanup_config));
  if (precheck->parsed()) return agent::cli::RunPrecheck(precheck_config);
  if (sidecar->parsed()) {
    if (auto status = agent::config::Validate(sidecar_config); !status.ok()) {
      std::cerr << "Error: " << status.message() << "\n";
      return 2;
    }
    return agent::cli::RunSidecar(std::move(sidecar_config));
  }
  return 2;
}
