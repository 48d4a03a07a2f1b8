#include "apisix/bundle_config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apisix/resources.h"
#include "common/atomic_file.h"
#include "common/stable_hash.h"

namespace agent::apisix {

namespace {

// YAML double-quoted scalar (JSON string escaping is valid YAML).
std::string Quote(const std::string& text) { return nlohmann::json(text).dump(); }

}  // namespace

std::string RenderBundleConfig(const BundleConfig& c) {
  std::string out = absl::StrCat(kRenderedMarker, " for bundle mode (APISIX ", c.line == VersionLine::k2x ? "2.x" : "3.x",
                                 "); rewritten at every start: put your settings in --apisix-config-base.\n");
  const auto& front = c.mesh_front;
  if (!front) {
    // Both capture ports are APISIX listeners: the routes' listener binding tells them apart.
    absl::StrAppend(&out, "apisix:\n  node_listen:\n    - ", c.node_listen, "\n    - ", c.inbound_port, "\n");
  } else {
    // The capture ports are the front's (stream); APISIX's HTTP server listens on loopback only.
    absl::StrAppend(&out, "apisix:\n  node_listen:\n");
    if (c.line == VersionLine::k2x) {
      absl::StrAppend(&out, "    - ", front->http_direct_port, "\n");
    } else {
      absl::StrAppend(&out, "    - ip: 127.0.0.1\n      port: ", front->http_direct_port, "\n");
    }
    absl::StrAppend(&out, c.line == VersionLine::k2x ? "  stream_proxy:\n    only: false\n"
                                                      : "  proxy_mode: http&stream\n  stream_proxy:\n",
                    "    tcp:\n      - \"127.0.0.1:", front->stream_port, "\"\n",
                    "  proxy_protocol:\n    enable_tcp_pp: true\n");
  }
  // The configuration comes from xDS through the agent; nothing else may change it.
  absl::StrAppend(&out, "  enable_admin: false\n  ssl:\n    enable: false\n");
  // The agent runs nginx in the foreground (-g 'daemon off;') and reads its error log on stderr.
  // load_module must precede the events block: APISIX renders this snippet right after
  // worker_processes.
  absl::StrAppend(&out, "nginx_config:\n  error_log: /dev/stderr\n");
  if (!c.worker_user.empty()) absl::StrAppend(&out, "  user: ", Quote(c.worker_user), "\n");
  if (!c.original_dst_module.empty()) {
    absl::StrAppend(&out, "  main_configuration_snippet: |\n    load_module ", c.original_dst_module, ";\n");
    if (front) absl::StrAppend(&out, "    load_module ", front->stream_module, ";\n");
  }
  if (c.access_log == "off") {
    absl::StrAppend(&out, "  http:\n    enable_access_log: false\n");
  } else {
    absl::StrAppend(&out, "  http:\n    access_log: ", Quote(c.access_log), "\n");
  }
  if (front) {
    // The client's address, for APISIX's plugins and logs: from the front's PROXY header, trusted
    // on the front's unix sockets only.
    absl::StrAppend(&out, "    real_ip_header: proxy_protocol\n    real_ip_from:\n      - \"unix:\"\n");
    // Every captured connection: its original destination restored (the kernel's, or the PROXY
    // header's behind the front), then the table decides. Sessions half-close as TCP does.
    const std::string dir = front->dir;
    const std::string rest = absl::StrCat("tcp 127.0.0.1:", front->stream_port, "; passthrough unix:", dir, "/",
                                          kFrontPassthroughSocket, ";");
    absl::StrAppend(&out,
                    "  stream_configuration_snippet: |\n"
                    "    original_dst_restore on;\n"
                    "    mesh_front_table ", front->table, ";\n"
                    "    mesh_front_detect_timeout ", front->detect_timeout_ms, "ms;\n"
                    "    proxy_half_close on;\n"
                    "    map $mesh_front_action $mesh_front_outbound_next {\n"
                    "      http unix:", dir, "/", kFrontHttpOutboundSocket, "; ", rest, "\n"
                    "    }\n"
                    "    map $mesh_front_action $mesh_front_inbound_next {\n"
                    "      http unix:", dir, "/", kFrontHttpInboundSocket, "; ", rest, "\n"
                    "    }\n");
    for (const auto& [port, direction] : {std::pair{c.node_listen, "outbound"}, {c.inbound_port, "inbound"}}) {
      absl::StrAppend(&out,
                      "    server {\n"
                      "      listen ", port, ";\n"
                      "      listen [::]:", port, ";\n"
                      "      mesh_front ", direction, ";\n"
                      "      proxy_protocol on;\n"
                      "      proxy_pass $mesh_front_", direction, "_next;\n"
                      "    }\n");
    }
    absl::StrAppend(&out,
                    "    server {\n"
                    "      listen unix:", dir, "/", kFrontPassthroughSocket, " proxy_protocol;\n"
                    "      proxy_pass $original_dst;\n"
                    "    }\n");
  }
  if (!c.original_dst_var.empty()) {
    // Pass-through to where the client connection was going (ORIGINAL_DST clusters): the address
    // comes from the kernel (SO_ORIGINAL_DST) or the front's PROXY header, never from the request;
    // a connection that was not redirected has none and gets 502, as Envoy answers when it has no
    // upstream.
    absl::StrAppend(&out, "  http_server_configuration_snippet: |\n");
    if (front) {
      absl::StrAppend(&out, "    listen unix:", front->dir, "/", kFrontHttpOutboundSocket, " proxy_protocol;\n",
                      "    listen unix:", front->dir, "/", kFrontHttpInboundSocket, " proxy_protocol;\n");
    }
    absl::StrAppend(&out,
                    "    location ", c.passthrough_location, " {\n"
                    "      if ($", c.original_dst_var, " = \"\") {\n"
                    "        return 502;\n"
                    "      }\n"
                    "      proxy_http_version 1.1;\n"
                    "      proxy_set_header Host $http_host;\n"
                    "      proxy_set_header Upgrade $http_upgrade;\n"
                    "      proxy_set_header Connection $http_connection;\n"
                    "      proxy_pass http://$", c.original_dst_var, ";\n"
                    "    }\n");
  }
  std::string etcd = absl::StrCat("etcd:\n  host:\n    - ", Quote(c.etcd_host), "\n  prefix: ", Quote(c.etcd_prefix),
                                  "\n  timeout: 30\n");
  if (!c.etcd_user.empty()) {
    absl::StrAppend(&etcd, "  user: ", Quote(c.etcd_user), "\n  password: ", Quote(c.etcd_password), "\n");
  }
  if (c.line == VersionLine::k2x) {
    absl::StrAppend(&out, etcd);
  } else {
    absl::StrAppend(&out, "deployment:\n  role: traditional\n  role_traditional:\n    config_provider: etcd\n");
    for (size_t start = 0; start < etcd.size();) {  // the same block, one level deeper
      const size_t end = etcd.find('\n', start);
      absl::StrAppend(&out, "  ", etcd.substr(start, end - start + 1));
      start = end + 1;
    }
  }
  absl::StrAppend(&out, "plugins:\n");
  for (const char* plugin : kTranslatedPlugins) absl::StrAppend(&out, "  - ", plugin, "\n");
  return out;
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string OwnedRecordPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  return absl::StrCat(slash == std::string::npos ? "" : path.substr(0, slash + 1), ".apisix-mesh-agent-owned");
}

std::string Fingerprint(const std::string& content) { return absl::StrCat(absl::Hex(StableHash64(content))); }

}  // namespace

std::string OperatorConfigPath(const std::string& path) { return path + ".operator"; }

bool IsOwnedConfig(const std::string& path) {
  std::ifstream existing(path);
  if (!existing) return false;
  const std::string content = ReadFile(path);
  if (content.rfind(kRenderedMarker, 0) == 0) return true;
  std::ifstream record(OwnedRecordPath(path));
  const std::string fingerprint = Fingerprint(content);
  for (std::string line; std::getline(record, line);) {
    if (line == fingerprint) return true;
  }
  return false;
}

void RecordOwned(const std::string& path) {
  std::ifstream in(path);
  if (!in) return;
  // The newest few versions are enough: the rendered file and what APISIX's init made of it.
  std::vector<std::string> lines;
  {
    std::ifstream record(OwnedRecordPath(path));
    for (std::string line; std::getline(record, line);) lines.push_back(line);
  }
  lines.push_back(Fingerprint(ReadFile(path)));
  if (lines.size() > 8) lines.erase(lines.begin(), lines.end() - 8);
  std::ofstream record(OwnedRecordPath(path), std::ios::trunc);
  for (const auto& line : lines) record << line << "\n";
}

absl::StatusOr<std::optional<std::string>> InstallBundleConfig(const std::string& path, const std::string& content) {
  std::optional<std::string> backup;
  if (std::ifstream(path) && !IsOwnedConfig(path)) {
    backup = OperatorConfigPath(path);
    if (std::ifstream(*backup)) backup = absl::StrCat(path, ".user-backup-", std::time(nullptr));
    if (std::rename(path.c_str(), backup->c_str()) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is not the agent's and cannot be moved aside to ",
                                                        *backup, ": ", std::strerror(errno),
                                                        "; refusing to overwrite it"));
    }
  }
  if (auto s = WriteFileAtomically(path, content); !s.ok()) return s;
  RecordOwned(path);
  return backup;
}

}  // namespace agent::apisix
