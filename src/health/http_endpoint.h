// A small HTTP/1.1 endpoint on a thread of its own, for the agent's operator-facing listeners
// (the kubelet probes, the admin endpoint): requests are answered in turn on each connection,
// never behind xDS decoding, translation or the store's locks. Bodies are capped; a handler sees
// the method, the target, the body and whether the peer is on loopback.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"
#include "common/accept_backoff.h"
#include "config/listen_address.h"

namespace agent::health {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string body;
  bool from_loopback = false;

  std::string Path() const { return target.substr(0, target.find('?')); }
  // The value of `name` in the query string ("" when absent); no percent-decoding is needed by
  // the endpoints' parameters (levels, resource kinds, names).
  std::string Query(const std::string& name) const;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpEndpoint {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  // `flag` names the listener in errors ("--health-listen").
  HttpEndpoint(std::string flag, Handler handler);
  ~HttpEndpoint();

  absl::Status Start(const config::ListenAddress& listen);
  void Stop();  // idempotent; requests in flight are cut
  uint16_t port() const { return port_; }

 private:
  void Accept();

  const std::string flag_;
  const Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  AcceptBackoff accept_backoff_;
  uint16_t port_ = 0;
};

}  // namespace agent::health
