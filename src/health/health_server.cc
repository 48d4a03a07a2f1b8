#include "health/health_server.h"

namespace agent::health {

HealthServer::HealthServer(const Readiness& readiness, std::function<void()> on_quit)
    : readiness_(readiness), on_quit_(std::move(on_quit)),
      endpoint_("--health-listen", [this](const HttpRequest& request) { return Handle(request); }) {}

HttpReply HealthServer::Handle(const HttpRequest& request) const {
  const std::string path = request.Path();
  if (path == "/quitquitquit") {
    if (request.method != "POST") return {405, "text/plain", "POST only\n"};
    if (!request.from_loopback) return {403, "text/plain", "only from loopback\n"};
    if (!on_quit_) return {404, "text/plain", "not available\n"};
    on_quit_();
    return {200, "text/plain", "draining, then stopping\n"};
  }
  if (request.method != "GET" && request.method != "HEAD") return {405, "text/plain", "GET only\n"};
  if (path == "/healthz/live") return {200, "text/plain", "live\n"};
  if (path == "/healthz/ready") {
    return {readiness_.ready() ? 200 : 503, "text/plain", readiness_.Describe() + "\n"};
  }
  return {404, "text/plain", "not found: try /healthz/live or /healthz/ready\n"};
}

}  // namespace agent::health
