// The HTTP/JSON gateway's unary endpoints, as a pure function of (method, path, body): the
// transport (http_gateway.cc) only moves bytes, and tests compare replies with etcd's own.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "etcd/cluster_identity.h"
#include "store/kv_store.h"

namespace agent::etcd {

struct GatewayContext {
  store::KvStore& store;
  const ClusterIdentity& identity;
};

struct GatewayReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

inline constexpr char kWatchPath[] = "/v3/watch";

// nullopt for POST /v3/watch, which is a stream the transport serves itself.
std::optional<GatewayReply> HandleUnaryRequest(absl::string_view method, absl::string_view target,
                                               const std::string& body, const GatewayContext& context);

}  // namespace agent::etcd
