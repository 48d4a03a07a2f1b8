// JSON exactly as etcd 3.4/3.5's grpc-gateway writes and reads it (apisix-etcd-protocol.md §7):
// proto field names, int64 as strings, base64 bytes, enum names, zero values omitted; input in
// either name style, numbers or strings, unknown fields ignored.
#pragma once

#include "absl/strings/string_view.h"
#include <string>
#include <vector>
#include <string_view>

#include <google/protobuf/message.h>

#include "absl/status/status.h"

namespace agent::etcd {

std::string ToGatewayJson(const google::protobuf::Message& message);

// An empty body is an empty request, as in the gateway.
absl::Status FromGatewayJson(absl::string_view json, google::protobuf::Message* message);

// {"error":"<msg>","message":"<msg>","code":<grpc code>}, etcd 3.4's field order.
std::string UnaryErrorBody(const absl::Status& status);

// The gateway's HTTP status for a gRPC code (grpc-gateway v1 runtime.HTTPStatusFromCode).
int HttpStatusFromCode(absl::StatusCode code);

}  // namespace agent::etcd

namespace agent::etcd {

// Splits a body holding one or more concatenated JSON objects (the gateway decodes streaming
// requests in a loop). Returns false if it is not a sequence of complete objects.
bool SplitJsonObjects(absl::string_view body, std::vector<absl::string_view>& out);

}  // namespace agent::etcd
