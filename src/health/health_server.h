// The kubelet probe endpoint: GET /healthz/live (200 while the agent's event loop runs) and
// GET /healthz/ready (200 when Readiness says so, 503 with the reason otherwise), on a small
// HTTP/1.1 listener of its own (loopback by default), served from the caller's io_context.
#pragma once

#include <cstdint>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"
#include "common/accept_backoff.h"
#include "config/listen_address.h"
#include "health/readiness.h"

namespace agent::health {

class HealthServer {
 public:
  HealthServer(boost::asio::io_context& io, const Readiness& readiness);

  absl::Status Start(const config::ListenAddress& listen);
  void Stop();
  uint16_t port() const { return port_; }

 private:
  void Accept();

  const Readiness& readiness_;
  boost::asio::ip::tcp::acceptor acceptor_;
  AcceptBackoff accept_backoff_;
  uint16_t port_ = 0;
};

}  // namespace agent::health
