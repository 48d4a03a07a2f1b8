#include "etcd/gateway_router.h"

#include "etcd/gateway_json.h"
#include "etcd/kv_range.h"

namespace agent::etcd {
namespace {

constexpr char kVersionBody[] = R"({"etcdserver":"3.5.0","etcdcluster":"3.5.0"})";

GatewayReply Text(int status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body)}; }

GatewayReply Error(const absl::Status& status) {
  return {HttpStatusFromCode(status.code()), "application/json", UnaryErrorBody(status)};
}

GatewayReply Range(const std::string& body, const GatewayContext& context) {
  etcdserverpb::RangeRequest request;
  if (absl::Status parsed = FromGatewayJson(body, &request); !parsed.ok()) return Error(parsed);
  auto result = ExecuteRange(context.store, context.identity, request);
  if (!result.ok()) return Error(result.status());
  return {200, "application/json", ToGatewayJson(*result)};
}

}  // namespace

std::optional<GatewayReply> HandleUnaryRequest(absl::string_view method, absl::string_view target,
                                               const std::string& body, const GatewayContext& context) {
  const absl::string_view path = target.substr(0, target.find('?'));
  const bool get = method == "GET";
  const bool post = method == "POST";
  if (path == "/version") return get ? GatewayReply{200, "application/json", kVersionBody} : Text(405, "Method Not Allowed\n");
  if (path == "/v3/kv/range") return post ? Range(body, context) : Text(405, "Method Not Allowed\n");
  if (path == kWatchPath) {
    if (post) return std::nullopt;
    return Text(405, "Method Not Allowed\n");
  }
  // The gateway's own 404 under /v3/, Go's mux's elsewhere (APISIX's CLI looks for the latter).
  if (path.substr(0, 4) == "/v3/") return Text(404, "Not Found\n");
  return Text(404, "404 page not found\n");
}

}  // namespace agent::etcd
