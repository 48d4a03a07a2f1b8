// The gateway's two hot answers — Range (APISIX's reads and readdirs) and Watch events — written
// directly, byte for byte what protobuf's JSON printer writes for them with ToGatewayJson's
// options (field-number order, proto names, 64-bit integers as strings, base64 bytes, zero
// values left out). The printer walks descriptors and costs several times the message itself.
#pragma once

#include <optional>
#include <string>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"

namespace agent::etcd {

std::string RangeResponseJson(const etcdserverpb::RangeResponse& response);
// nullopt for what the fast path does not cover (a cancel reason, which needs string escaping).
std::optional<std::string> WatchResponseJson(const etcdserverpb::WatchResponse& response);

}  // namespace agent::etcd
