#include "etcd/gateway_router.h"
#include "etcd/status_or.h"

#include <chrono>
#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "etcd/gateway_json.h"

namespace agent::etcd {
namespace {

using Handler = std::function<GatewayReply(EtcdApi&, const std::string& body)>;

GatewayReply Text(int status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body), false}; }

GatewayReply Error(const absl::Status& status) {
  return {HttpStatusFromCode(status.code()), "application/json", UnaryErrorBody(status), false};
}

// A unary call: decode the body as etcd's gateway does, run, encode.
template <typename Request, typename Call>
Handler Unary(Call call) {
  return [call](EtcdApi& api, const std::string& body) {
    Request request;
    if (absl::Status parsed = FromGatewayJson(body, &request); !parsed.ok()) return Error(parsed);
    auto result = AsStatusOr(call(api, request));
    if (!result.ok()) return Error(result.status());
    return GatewayReply{200, "application/json", ToGatewayJson(*result), false};
  };
}

// Lease keep-alive is a bidirectional stream in gRPC; the gateway answers every request in the
// body with one {"result":…} line and then ends the response.
GatewayReply KeepAlive(EtcdApi& api, const std::string& body) {
  std::vector<absl::string_view> objects;
  if (!SplitJsonObjects(body, objects)) return Error(absl::InvalidArgumentError("unexpected EOF"));
  if (objects.empty()) objects.push_back("{}");
  GatewayReply reply{200, "application/json", "", true};
  for (absl::string_view object : objects) {
    etcdserverpb::LeaseKeepAliveRequest request;
    if (absl::Status parsed = FromGatewayJson(object, &request); !parsed.ok()) return Error(parsed);
    absl::StrAppend(&reply.body, "{\"result\":", ToGatewayJson(api.LeaseKeepAlive(request)), "}\n");
  }
  return reply;
}

const std::map<std::string, Handler>& Routes() {
  using namespace etcdserverpb;  // NOLINT: the table reads better with etcd's bare message names
  static const auto* routes = new std::map<std::string, Handler>{
      {"/v3/kv/range", Unary<RangeRequest>([](EtcdApi& a, const RangeRequest& r) { return a.Range(r); })},
      {"/v3/kv/put", Unary<PutRequest>([](EtcdApi& a, const PutRequest& r) { return a.Put(r); })},
      {"/v3/kv/deleterange",
       Unary<DeleteRangeRequest>([](EtcdApi& a, const DeleteRangeRequest& r) { return a.DeleteRange(r); })},
      {"/v3/kv/txn", Unary<TxnRequest>([](EtcdApi& a, const TxnRequest& r) { return a.Txn(r); })},
      {"/v3/kv/compaction",
       Unary<CompactionRequest>([](EtcdApi& a, const CompactionRequest& r) { return a.Compact(r); })},
      {"/v3/lease/grant",
       Unary<LeaseGrantRequest>([](EtcdApi& a, const LeaseGrantRequest& r) { return a.LeaseGrant(r); })},
      {"/v3/lease/revoke",
       Unary<LeaseRevokeRequest>([](EtcdApi& a, const LeaseRevokeRequest& r) { return a.LeaseRevoke(r); })},
      {"/v3/lease/timetolive", Unary<LeaseTimeToLiveRequest>([](EtcdApi& a, const LeaseTimeToLiveRequest& r) {
         return a.LeaseTimeToLive(r);
       })},
      {"/v3/lease/leases",
       Unary<LeaseLeasesRequest>([](EtcdApi& a, const LeaseLeasesRequest& r) { return a.LeaseLeases(r); })},
      {"/v3/lease/keepalive", KeepAlive},
      {"/v3/maintenance/status", Unary<StatusRequest>([](EtcdApi& a, const StatusRequest& r) { return a.Status(r); })},
      {"/v3/cluster/member/list",
       Unary<MemberListRequest>([](EtcdApi& a, const MemberListRequest& r) { return a.MemberList(r); })},
      {"/v3/auth/authenticate",
       Unary<AuthenticateRequest>([](EtcdApi& a, const AuthenticateRequest& r) { return a.Authenticate(r); })},
  };
  return *routes;
}

// etcd's rpc.proto binds /v3/kv/lease/* as additional paths of /v3/lease/*.
std::string LeaseAlias(std::string path) {
  if (absl::StartsWith(path, "/v3/kv/lease/")) return "/v3/lease/" + path.substr(strlen("/v3/kv/lease/"));
  return path;
}

}  // namespace

std::string CanonicalPath(absl::string_view target) {
  std::string path(target.substr(0, target.find('?')));
  if (absl::StartsWith(path, "/v3beta/")) path = "/v3/" + path.substr(strlen("/v3beta/"));
  return LeaseAlias(std::move(path));
}

// The gRPC method a gateway path stands for: one `method` label for both protocols.
absl::string_view MethodOf(const std::string& path) {
  static const std::map<std::string, std::string, std::less<>> kMethods = {
      {"/v3/kv/range", "Range"},           {"/v3/kv/put", "Put"},
      {"/v3/kv/deleterange", "DeleteRange"}, {"/v3/kv/txn", "Txn"},
      {"/v3/kv/compaction", "Compact"},    {"/v3/lease/grant", "LeaseGrant"},
      {"/v3/lease/revoke", "LeaseRevoke"}, {"/v3/lease/keepalive", "LeaseKeepAlive"},
      {"/v3/lease/timetolive", "LeaseTimeToLive"}, {"/v3/lease/leases", "LeaseLeases"},
      {"/v3/maintenance/status", "Status"}, {"/v3/cluster/member/list", "MemberList"},
      {"/v3/auth/authenticate", "Authenticate"}};
  auto it = kMethods.find(path);
  return it == kMethods.end() ? absl::string_view("other") : absl::string_view(it->second);
}

std::optional<GatewayReply> HandleUnaryRequest(EtcdApi& api, absl::string_view method, absl::string_view target,
                                               absl::string_view token, const std::string& body) {
  const std::string path = CanonicalPath(target);
  if (path == "/version") {
    if (method != "GET") return Text(405, "Method Not Allowed\n");
    return GatewayReply{200, "application/json",
                        absl::StrCat(R"({"etcdserver":")", kEtcdServerVersion, R"(","etcdcluster":")",
                                     kEtcdClusterVersion, R"("})"),
                        false};
  }
  if (path == "/metrics") {
    if (method != "GET") return Text(405, "Method Not Allowed\n");
    return GatewayReply{200, "text/plain; version=0.0.4", api.Metrics(), false};
  }
  if (path == "/health") {
    if (method != "GET") return Text(405, "Method Not Allowed\n");
    return GatewayReply{200, "application/json", R"({"health":"true"})", false};
  }
  const bool is_watch = path == kWatchPath;
  auto route = Routes().find(path);
  if (route == Routes().end() && !is_watch) {
    // The gateway's own 404 under /v3/, Go's mux's elsewhere (APISIX's CLI looks for the latter).
    return absl::StartsWith(path, "/v3/") ? Text(404, "Not Found\n") : Text(404, "404 page not found\n");
  }
  if (method != "POST") return Text(405, "Method Not Allowed\n");
  if (absl::Status s = api.CheckRequestSize(body.size()); !s.ok()) return Error(s);
  if (path != "/v3/auth/authenticate") {
    if (absl::Status s = api.Authorize(token); !s.ok()) return Error(s);
  }
  if (is_watch) return std::nullopt;
  const auto started = std::chrono::steady_clock::now();
  std::optional<GatewayReply> reply = route->second(api, body);
  api.Observe(MethodOf(path), "http", reply && reply->status < 400 ? absl::StatusCode::kOk
                            : reply && reply->status < 500 ? absl::StatusCode::kInvalidArgument
                                                           : absl::StatusCode::kInternal,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return reply;
}

}  // namespace agent::etcd
