// The admin endpoint (--admin-listen, 127.0.0.1:15000 like Envoy's admin): what the agent holds
// and how it runs, for operators and `apisix-mesh-agent status`.
//
//   GET  /stats/prometheus, /metrics   Prometheus text (the registry)
//   GET  /config_dump[?resource=…&name=…]   JSON (admin/config_dump.h)
//   GET  /syncz                        JSON: per xDS type the exchange with the control plane; the
//                                      etcd side's revisions and watchers
//   GET  /logging                      the log level;  POST /logging?level=debug changes it
//
// Peers that are not on loopback are refused (403) unless `allow_remote`: the dump shows the
// whole mesh configuration, and /logging changes the process.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "admin/config_dump.h"
#include "common/metrics.h"
#include "config/listen_address.h"
#include "health/http_endpoint.h"
#include "nlohmann/json.hpp"

namespace agent::admin {

struct AdminSources {
  const metrics::Registry* metrics = nullptr;
  std::function<nlohmann::json(const DumpFilter&)> config_dump;
  std::function<nlohmann::json()> syncz;
};

class AdminServer {
 public:
  AdminServer(AdminSources sources, bool allow_remote);

  absl::Status Start(const config::ListenAddress& listen) { return endpoint_.Start(listen); }
  void Stop() { endpoint_.Stop(); }
  uint16_t port() const { return endpoint_.port(); }

  health::HttpReply Handle(const health::HttpRequest& request) const;  // public for tests

 private:
  const AdminSources sources_;
  const bool allow_remote_;
  health::HttpEndpoint endpoint_;
};

}  // namespace agent::admin
