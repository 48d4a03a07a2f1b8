#include "admin/admin_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace agent::admin {

namespace {

constexpr char kIndex[] =
    "apisix-mesh-agent admin\n"
    "  GET  /stats/prometheus  /metrics      Prometheus text\n"
    "  GET  /config_dump[?resource=R&name=S]  xDS held, APISIX objects served, what was left out (JSON)\n"
    "  GET  /syncz                           xDS exchange per type, etcd revisions and watchers (JSON)\n"
    "  GET  /logging                         the log level; POST /logging?level=debug|info|warn|error\n";

health::HttpReply Json(const nlohmann::json& body, int status = 200) {
  return {status, "application/json", body.dump(2) + "\n"};
}

}  // namespace

AdminServer::AdminServer(AdminSources sources, bool allow_remote)
    : sources_(std::move(sources)), allow_remote_(allow_remote),
      endpoint_("--admin-listen", [this](const health::HttpRequest& r) { return Handle(r); }) {}

health::HttpReply AdminServer::Handle(const health::HttpRequest& request) const {
  if (!request.from_loopback && !allow_remote_) {
    return {403, "text/plain", "the admin endpoint answers loopback peers only (--admin-allow-remote)\n"};
  }
  log::Debug("admin: %s %s", request.method, request.target);
  const std::string path = request.Path();
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (path == "/logging") {
    if (request.method == "POST") {
      const std::string level = request.Query("level");
      log::Level parsed;
      if (level.empty() || !log::ParseLevel(level, &parsed).ok()) {
        return {400, "text/plain", absl::StrCat("level: \"", level, "\" is not debug, info, warn or error\n")};
      }
      const log::Level before = log::CurrentLevel();
      log::SetLevel(parsed);
      log::Warn("admin: log level %s → %s (POST /logging)", log::LevelName(before), log::LevelName(parsed));
      return {200, "text/plain", absl::StrCat("level: ", log::LevelName(parsed), "\n")};
    }
    if (!read) return {405, "text/plain", "GET or POST\n"};
    return {200, "text/plain", absl::StrCat("level: ", log::LevelName(log::CurrentLevel()), "\n")};
  }
  if (!read) return {405, "text/plain", "GET only\n"};
  if (path == "/" || path.empty()) return {200, "text/plain", kIndex};
  if (path == "/stats/prometheus" || path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", sources_.metrics ? sources_.metrics->RenderPrometheus() : ""};
  }
  if (path == "/config_dump" && sources_.config_dump) {
    DumpFilter filter{request.Query("resource"), request.Query("name")};
    const auto& sections = DumpSections();
    if (!filter.resource.empty() && std::find(sections.begin(), sections.end(), filter.resource) == sections.end()) {
      return {400, "text/plain",
              absl::StrCat("resource: \"", filter.resource, "\" is not one of ", absl::StrJoin(sections, ", "), "\n")};
    }
    return Json(sources_.config_dump(filter));
  }
  if (path == "/syncz" && sources_.syncz) return Json(sources_.syncz());
  return {404, "text/plain", absl::StrCat("not found\n\n", kIndex)};
}

}  // namespace agent::admin
