#include "etcd/grpc_services.h"
#include "etcd/peer_name.h"
#include "etcd/status_or.h"

#include <chrono>
#include <mutex>

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "absl/strings/str_cat.h"
#include <type_traits>

#include "etcd/watch_stream.h"

namespace agent::etcd {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;
using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

namespace {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// etcd clients send their auth token as the "token" metadata.
std::string TokenOf(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("token");
  return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// Every unary call: parse, authorize, check the size, run, answer.
template <typename Request, typename Call>
grpc::ServerUnaryReactor* Unary(const char* method, grpc::CallbackServerContext* context, EtcdApi& api,
                                const grpc::ByteBuffer* raw, grpc::ByteBuffer* out, Call call, bool needs_auth = true) {
  const auto started = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  grpc::ByteBuffer bytes(*raw);  // shares the slices; Deserialize consumes its argument
  if (!grpc::SerializationTraits<Request>::Deserialize(&bytes, &request).ok()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL,
                                 absl::StrCat("grpc: error unmarshalling request: cannot parse ",
                                              Request::descriptor()->full_name())));
    api.Observe(method, "grpc", absl::StatusCode::kInternal,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return reactor;
  }
  absl::Status status = needs_auth ? api.Authorize(TokenOf(context)) : absl::OkStatus();
  if (status.ok()) status = api.CheckRequestSize(request.ByteSizeLong());
  if (status.ok()) {
    auto result = AsStatusOr(call(request));
    if (result.ok()) {
      bool own_buffer = false;
      if (auto s = grpc::SerializationTraits<std::decay_t<decltype(*result)>>::Serialize(*result, out, &own_buffer);
          !s.ok()) {
        status = absl::InternalError(absl::StrCat("cannot encode the response: ", s.error_message()));
      }
    } else {
      status = result.status();
    }
  }
  reactor->Finish(ToGrpcStatus(status));
  api.Observe(method, "grpc", status.code(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return reactor;
}

// One Watch call. Reads and writes are driven by gRPC; store notifications only trigger TryWrite.
// At most one write is in flight; the next message is pulled from the WatchStream when it completes.
class WatchReactor final : public grpc::ServerBidiReactor<WatchRequest, WatchResponse> {
 public:
  WatchReactor(EtcdApi& api, absl::Status authorized, std::string peer)
      : stream_(api.store(), api.identity(), [this] { TryWrite(); },
                api.WatchContext(WatchProtocol::kGrpc, std::move(peer))) {
    if (!authorized.ok()) {
      FinishOnce(ToGrpcStatus(authorized));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed or went away
      FinishOnce(grpc::Status::OK);
      return;
    }
    stream_.Handle(request_);
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    grpc::Status status;
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
      finish = finish_requested_ || !ok;
      status = ok ? final_status_ : grpc::Status::CANCELLED;
    }
    if (finish) {
      FinishOnce(std::move(status));
      return;
    }
    TryWrite();
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    stream_.Shutdown();  // no store notification reaches `this` after this returns
    delete this;
  }

 private:
  void TryWrite() {
    std::lock_guard lock(mutex_);
    if (writing_ || finish_requested_) return;
    auto next = stream_.Next();
    if (!next) return;
    response_ = *std::move(next);
    writing_ = true;
    stream_.Sent(static_cast<size_t>(response_.events_size()), response_.ByteSizeLong());
    StartWrite(&response_);
  }

  void FinishOnce(grpc::Status status) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finish_requested_ = true;
    if (writing_) {  // finish once the write in flight completes
      final_status_ = std::move(status);
      return;
    }
    finished_ = true;
    Finish(std::move(status));
  }

  WatchStream stream_;
  WatchRequest request_;
  std::mutex mutex_;
  WatchResponse response_;
  bool writing_ = false;
  bool finish_requested_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
};

// LeaseKeepAlive: each request is answered in turn (read, renew, write, read again).
class KeepAliveReactor final : public grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
 public:
  KeepAliveReactor(EtcdApi& api, absl::Status authorized) : api_(api) {
    if (!authorized.ok()) {
      Finish(ToGrpcStatus(authorized));
      return;
    }
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    response_ = api_.LeaseKeepAlive(request_);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  EtcdApi& api_;
  LeaseKeepAliveRequest request_;
  LeaseKeepAliveResponse response_;
};

}  // namespace

#define AGENT_UNARY(Service, Method, Request, Response, call, ...)                                              \
  grpc::ServerUnaryReactor* Service::Method(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request, \
                                            grpc::ByteBuffer* response) {                                          \
    return Unary<etcdserverpb::Request>(                                                                           \
        #Method, context, api_, request, response,                                                                 \
        [this](const etcdserverpb::Request& r) { return call; } __VA_OPT__(, ) __VA_ARGS__);                       \
  }

AGENT_UNARY(KvService, Range, RangeRequest, RangeResponse, api_.Range(r))
AGENT_UNARY(KvService, Put, PutRequest, PutResponse, api_.Put(r))
AGENT_UNARY(KvService, DeleteRange, DeleteRangeRequest, DeleteRangeResponse, api_.DeleteRange(r))
AGENT_UNARY(KvService, Txn, TxnRequest, TxnResponse, api_.Txn(r))
AGENT_UNARY(KvService, Compact, CompactionRequest, CompactionResponse, api_.Compact(r))
AGENT_UNARY(LeaseService, LeaseGrant, LeaseGrantRequest, LeaseGrantResponse, api_.LeaseGrant(r))
AGENT_UNARY(LeaseService, LeaseRevoke, LeaseRevokeRequest, LeaseRevokeResponse, api_.LeaseRevoke(r))
AGENT_UNARY(LeaseService, LeaseTimeToLive, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, api_.LeaseTimeToLive(r))
AGENT_UNARY(LeaseService, LeaseLeases, LeaseLeasesRequest, LeaseLeasesResponse, api_.LeaseLeases(r))
AGENT_UNARY(MaintenanceService, Status, StatusRequest, StatusResponse, api_.Status(r))
AGENT_UNARY(ClusterService, MemberList, MemberListRequest, MemberListResponse, api_.MemberList(r))
AGENT_UNARY(AuthService, Authenticate, AuthenticateRequest, AuthenticateResponse, api_.Authenticate(r),
            /*needs_auth=*/false)

#undef AGENT_UNARY

grpc::ServerBidiReactor<WatchRequest, WatchResponse>* WatchService::Watch(grpc::CallbackServerContext* context) {
  return new WatchReactor(api_, api_.Authorize(TokenOf(context)), PeerNameOfGrpc(context->peer()));
}

grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse>* LeaseService::LeaseKeepAlive(
    grpc::CallbackServerContext* context) {
  return new KeepAliveReactor(api_, api_.Authorize(TokenOf(context)));
}

}  // namespace agent::etcd
