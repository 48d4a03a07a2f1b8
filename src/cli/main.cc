// apisix-mesh-agent: sub-commands and their wiring.
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/sidecar_command.h"
#include "config/sidecar_config.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"apisix-mesh-agent: turns Apache APISIX into a service-mesh data plane"};
  app.require_subcommand(1);

  agent::config::SidecarConfig sidecar_config;
  CLI::App* sidecar = app.add_subcommand(
      "sidecar", "translate xDS into APISIX configuration and serve it over the etcd v3 API");
  agent::config::RegisterSidecarFlags(*sidecar, sidecar_config);

  CLI::App* version = app.add_subcommand("version", "print the version and exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (version->parsed()) {
    std::cout << "apisix-mesh-agent " << AGENT_VERSION << "\n";
    return 0;
  }
  if (sidecar->parsed()) {
    if (auto status = agent::config::Validate(sidecar_config); !status.ok()) {
      std::cerr << "Error: " << status.message() << "\n";
      return 2;
    }
    return agent::cli::RunSidecar(std::move(sidecar_config));
  }
  return 2;
}
