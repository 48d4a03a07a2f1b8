#include "cli/precheck_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tcp_listen.h"
#include "config/flag_checks.h"
#include "config/mesh_front.h"
#include "config/original_dst_module.h"
#include "iptables/host.h"
#include "iptables/rules.h"

namespace agent::cli {

namespace {

struct Check {
  std::string name;
  bool ok;
  std::string detail;
  bool warning = false;  // not ok, but bundle mode runs (degraded): reported, not counted as a failure
};

Check PortFree(const std::string& what, const std::string& ip, int port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(ip, ec);
  if (!ec) ec = Listen(acceptor, {address, static_cast<uint16_t>(port)});
  const std::string where = config::ListenAddress{ip, static_cast<uint16_t>(port)}.ToString();
  return {absl::StrCat(what, " port"), !ec, ec ? absl::StrCat(where, " is taken: ", ec.message()) : where + " is free"};
}

// Whether APISIX will know where each connection was going; what is degraded without it.
Check OriginalDestinations(const config::SidecarConfig& c) {
  const std::string name = "original destinations";
  auto original = config::ResolveOriginalDestinations(c.original_dst_var, c.original_dst_module);
  if (!original.ok()) return {name, false, std::string(original.status().message())};
  if (!original->module_path.empty()) {
    return {name, true, absl::StrCat(original->module_path, " will be loaded: listener binding and pass-through on")};
  }
  if (!original->var.empty()) {
    return {name, true, absl::StrCat("$", original->var, " (--original-dst-var): listener binding and pass-through on")};
  }
  std::string searched;
  for (const auto& dir : config::OriginalDstModuleSearchPath()) absl::StrAppend(&searched, searched.empty() ? "" : ", ", dir);
  return {name, false,
          absl::StrCat("no ", config::kOriginalDstModuleFile, " (--original-dst-module ", c.original_dst_module,
                       "; searched ", searched, "): routes of different ports shadow each other and pass-through "
                       "routes (PassthroughCluster, ALLOW_ANY, inbound catch-all) are dropped"),
          true};
}

// Whether TCP goes through the mesh (the mesh front): it needs the stream module beside the http one.
Check MeshFront(const config::SidecarConfig& c) {
  const std::string name = "mesh front (TCP)";
  if (c.mesh_front == "off") return {name, true, "off (--mesh-front off): only HTTP is carried"};
  auto original = config::ResolveOriginalDestinations(c.original_dst_var, c.original_dst_module);
  const std::string stream =
      original.ok() && !original->module_path.empty()
          ? std::filesystem::path(original->module_path).replace_filename(config::kStreamModuleFile).string()
          : std::string();
  if (!stream.empty() && ::access(stream.c_str(), R_OK) == 0) {
    return {name, true, absl::StrCat(stream, " will be loaded: HTTP and TCP told apart on the capture ports")};
  }
  return {name, c.mesh_front != "on",
          absl::StrCat("no ", config::kStreamModuleFile, " beside the http module: only HTTP is carried; other TCP "
                       "sent to the capture ports fails (docs/interception.md)"),
          c.mesh_front != "on"};
}

// Whether APISIX's workers will run as the user the nat rules exempt: otherwise every upstream
// connection APISIX opens is captured again and sent back to APISIX (a loop).
Check WorkerUser(const config::SidecarConfig& c) {
  const std::string name = "APISIX worker user";
  uint32_t uid = ::geteuid(), gid = ::getegid();
  std::string who = absl::StrCat("the agent's own uid ", uid, " (not root: nginx cannot switch users)");
  if (::geteuid() == 0) {
    auto user = iptables::LookupUser(c.apisix_user);
    if (!user.ok()) return {name, false, std::string(user.status().message())};
    uid = user->uid;
    gid = user->gid;
    who = absl::StrCat("--apisix-user ", c.apisix_user, " (uid ", uid, ", gid ", gid, ")");
  }
  std::string saved;
  if (FILE* pipe = ::popen("iptables-save -t nat 2>/dev/null", "r")) {
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) saved.append(buffer, n);
    ::pclose(pipe);
  }
  const iptables::Installed installed = iptables::ParseSaved(saved);
  if (installed.chains.empty()) {
    return {name, false,
            absl::StrCat("workers run as ", who, "; no interception rules in the nat table to compare with (run "
                         "`apisix-mesh-agent iptables` with the same --apisix-user)"),
            true};
  }
  const iptables::Exemption exempt = iptables::FindExemption(installed);
  if (exempt.uid == uid && (!exempt.gid || exempt.gid == gid)) {
    return {name, true, absl::StrCat("workers run as ", who, ", which the nat rules exempt")};
  }
  return {name, false,
          absl::StrCat("workers run as ", who, " but the nat rules exempt uid ",
                       exempt.uid ? std::to_string(*exempt.uid) : "none", " gid ",
                       exempt.gid ? std::to_string(*exempt.gid) : "none",
                       ": APISIX's own upstream connections would be captured again (a loop); give `iptables` and "
                       "`sidecar` the same --apisix-user")};
}

}  // namespace

int RunPrecheck(const config::SidecarConfig& c) {
  std::vector<Check> checks;
  const bool executable = ::access(c.apisix_bin_path.c_str(), X_OK) == 0;
  checks.push_back({"APISIX binary", executable,
                    executable ? c.apisix_bin_path + " is executable"
                               : absl::StrCat(c.apisix_bin_path, ": ", std::strerror(errno), " (--apisix-bin-path)")});
  struct stat st;
  const bool home = ::stat(c.apisix_home_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  checks.push_back({"APISIX home", home,
                    home ? c.apisix_home_path + " is a directory"
                         : c.apisix_home_path + " is not a directory (--apisix-home-path)"});
  const std::string conf = c.apisix_home_path + "/conf";
  const bool conf_writable = ::access(conf.c_str(), W_OK) == 0;
  checks.push_back({"APISIX conf directory", conf_writable,
                    conf_writable ? conf + " is writable (bundle mode renders config.yaml there)"
                                  : absl::StrCat(conf, ": ", std::strerror(errno))});
  for (const char* binary : {"iptables", "iptables-save", "iptables-restore"}) {
    const bool found = !config::FindOnPath(binary).empty();
    checks.push_back({binary, found, found ? "found on PATH" : "not found on PATH (Debian: apt-get install iptables)"});
  }
  const bool privileged = iptables::HasNetAdmin();
  checks.push_back({"privileges", privileged,
                    privileged ? "root or CAP_NET_ADMIN: the nat table can be changed"
                               : "neither root nor CAP_NET_ADMIN: `iptables` and `cleanup-iptables` will fail"});
  auto listen = config::ParseListenAddress(c.grpc_listen);
  if (listen.ok()) {
    checks.push_back(PortFree("etcd API (--grpc-listen)", listen->ip, listen->port));
  } else {
    checks.push_back({"etcd API (--grpc-listen) port", false, std::string(listen.status().message())});
  }
  if (!c.health_listen.empty()) {
    auto health = config::ParseListenAddress(c.health_listen);
    checks.push_back(health.ok() ? PortFree("health (--health-listen)", health->ip, health->port)
                                 : Check{"health (--health-listen) port", false, std::string(health.status().message())});
  }
  checks.push_back(OriginalDestinations(c));
  checks.push_back(WorkerUser(c));
  checks.push_back(PortFree("APISIX outbound (--apisix-port)", "0.0.0.0", c.apisix_port));
  checks.push_back(PortFree("APISIX inbound (--apisix-inbound-capture-port)", "0.0.0.0", c.apisix_inbound_port));
  checks.push_back(MeshFront(c));
  if (checks.back().ok && !checks.back().warning && c.mesh_front != "off") {
    for (const auto& [what, port] : {std::pair{"mesh front: APISIX HTTP direct (node_listen)", config::kFrontHttpDirectPort},
                                     {"mesh front: APISIX stream", config::kFrontStreamPort}}) {
      checks.push_back(PortFree(what, "127.0.0.1", port));
    }
  }

  int failed = 0;
  for (const Check& check : checks) {
    std::cout << (check.ok ? "ok   " : check.warning ? "WARN " : "FAIL ") << check.name << ": " << check.detail << "\n";
    failed += check.ok || check.warning ? 0 : 1;
  }
  std::cout << (failed == 0 ? "precheck passed\n" : absl::StrCat("precheck failed: ", failed, " check(s)\n"));
  return failed == 0 ? 0 : 1;
}

}  // namespace agent::cli
