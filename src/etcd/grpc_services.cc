#include "etcd/grpc_services.h"

#include <mutex>

#include "etcd/kv_range.h"
#include "etcd/watch_stream.h"

namespace agent::etcd {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

namespace {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// One Watch call. Reads and writes are driven by gRPC; store notifications only trigger TryWrite.
// At most one write is in flight; the next message is pulled from the WatchStream when it completes.
class WatchReactor final : public grpc::ServerBidiReactor<WatchRequest, WatchResponse> {
 public:
  WatchReactor(store::KvStore& store, const ClusterIdentity& identity)
      : stream_(store, identity, [this] { TryWrite(); }) {
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
    StartWrite(&response_);
  }

  void FinishOnce(grpc::Status status) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    if (writing_) {  // finish once the write in flight completes
      finish_requested_ = true;
      final_status_ = std::move(status);
      return;
    }
    finish_requested_ = true;
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

}  // namespace

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* context,
                                           const etcdserverpb::RangeRequest* request,
                                           etcdserverpb::RangeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto result = ExecuteRange(store_, identity_, *request);
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
  } else {
    *response = *std::move(result);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerBidiReactor<WatchRequest, WatchResponse>* WatchService::Watch(grpc::CallbackServerContext* context) {
  return new WatchReactor(store_, identity_);
}

}  // namespace agent::etcd
