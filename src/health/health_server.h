// The kubelet probe endpoint: GET /healthz/live (200 while the agent runs) and GET
// /healthz/ready (200 when Readiness says so, 503 with the reason otherwise), and POST
// /quitquitquit (from loopback only: the agent drains and stops, as pilot-agent offers for
// Kubernetes jobs whose main container has finished), on a small HTTP/1.1
// listener of its own (loopback by default), served by a thread of its own: never behind xDS
// decoding, translation or the store's locks (kubelet's probe timeout is 1 s).
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "config/listen_address.h"
#include "health/http_endpoint.h"
#include "health/readiness.h"

namespace agent::health {

class HealthServer {
 public:
  // `on_quit` runs on the server's thread when /quitquitquit is posted; it must not block.
  explicit HealthServer(const Readiness& readiness, std::function<void()> on_quit = nullptr);

  absl::Status Start(const config::ListenAddress& listen) { return endpoint_.Start(listen); }
  void Stop() { endpoint_.Stop(); }  // idempotent
  uint16_t port() const { return endpoint_.port(); }

 private:
  HttpReply Handle(const HttpRequest& request) const;

  const Readiness& readiness_;
  std::function<void()> on_quit_;
  HttpEndpoint endpoint_;
};

}  // namespace agent::health
