// The HTTP/JSON gateway's unary endpoints (etcd's grpc-gateway paths), as a pure function of
// (method, path, token, body) over EtcdApi: the transport (http_gateway.cc) only moves bytes, and
// tests compare replies with etcd's own captures.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "etcd/etcd_api.h"

namespace agent::etcd {

struct GatewayReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Streaming calls answered at once (lease keep-alive): the body is sent chunked, as etcd's
  // gateway streams it, and the response then ends.
  bool chunked = false;
};

inline constexpr char kWatchPath[] = "/v3/watch";

// nullopt for POST /v3/watch, which is a stream the transport serves itself. `token` is the
// Authorization header's value (empty if none).
std::optional<GatewayReply> HandleUnaryRequest(EtcdApi& api, absl::string_view method, absl::string_view target,
                                               absl::string_view token, const std::string& body);

// The canonical path for a request target: query stripped, etcd 3.4's /v3beta alias mapped to /v3.
std::string CanonicalPath(absl::string_view target);

}  // namespace agent::etcd
