#include "absl/strings/string_view.h"
#include "etcd/gateway_json.h"
#include "etcd/gateway_json_fast.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_nesting.h"
#include "nlohmann/json.hpp"

namespace agent::etcd {

std::string ToGatewayJson(const google::protobuf::Message& message) {
  // The hot answers skip the descriptor-driven printer (same bytes: gateway_json_fast.h).
  if (message.GetDescriptor() == etcdserverpb::RangeResponse::descriptor()) {
    return RangeResponseJson(static_cast<const etcdserverpb::RangeResponse&>(message));
  }
  if (message.GetDescriptor() == etcdserverpb::WatchResponse::descriptor()) {
    if (auto fast = WatchResponseJson(static_cast<const etcdserverpb::WatchResponse&>(message))) return *fast;
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = false;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

absl::Status FromGatewayJson(absl::string_view json, google::protobuf::Message* message) {
  if (absl::StripAsciiWhitespace(json).empty()) return absl::OkStatus();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), message, options);
  if (!status.ok()) return absl::InvalidArgumentError(status.message().as_string());
  return absl::OkStatus();
}

std::string UnaryErrorBody(const absl::Status& status) {
  nlohmann::ordered_json body;
  body["error"] = std::string(status.message());
  body["message"] = std::string(status.message());
  body["code"] = static_cast<int>(status.code());
  // Parser messages quote the client's bytes, which need not be UTF-8: replaced, never thrown on.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kCancelled: return 408;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kFailedPrecondition: return 412;  // grpc-gateway v1; etcd 3.4 capture 45
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

}  // namespace agent::etcd

namespace agent::etcd {

bool SplitJsonObjects(absl::string_view body, std::vector<absl::string_view>& out) {
  size_t i = 0;
  while (true) {
    while (i < body.size() && absl::ascii_isspace(static_cast<unsigned char>(body[i]))) ++i;
    if (i == body.size()) return true;
    if (body[i] != '{') return false;
    const size_t start = i;
    JsonNesting nesting;
    while (i < body.size() && nesting.Feed(body[i]) > 0) ++i;
    if (i >= body.size()) return false;
    out.push_back(body.substr(start, ++i - start));
  }
}

}  // namespace agent::etcd
