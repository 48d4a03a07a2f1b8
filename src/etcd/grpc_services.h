// etcd's gRPC services: thin adapters over EtcdApi (callback API: no thread per call or stream).
#pragma once

#include "etcd/etcd_api.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace agent::etcd {

// Unary methods take raw bytes and parse them here: a malformed payload is answered INTERNAL with
// grpc-go's message, as etcd answers, where gRPC C++'s typed handler would say UNIMPLEMENTED.
class KvService final
    : public etcdserverpb::KV::WithRawCallbackMethod_Range<etcdserverpb::KV::WithRawCallbackMethod_Put<
          etcdserverpb::KV::WithRawCallbackMethod_DeleteRange<etcdserverpb::KV::WithRawCallbackMethod_Txn<
              etcdserverpb::KV::WithRawCallbackMethod_Compact<etcdserverpb::KV::CallbackService>>>>> {
 public:
  explicit KvService(EtcdApi& api) : api_(api) {}
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

 private:
  EtcdApi& api_;
};

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  explicit WatchService(EtcdApi& api) : api_(api) {}
  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* context) override;

 private:
  EtcdApi& api_;
};

class LeaseService final
    : public etcdserverpb::Lease::WithRawCallbackMethod_LeaseGrant<etcdserverpb::Lease::WithRawCallbackMethod_LeaseRevoke<
          etcdserverpb::Lease::WithRawCallbackMethod_LeaseTimeToLive<
              etcdserverpb::Lease::WithRawCallbackMethod_LeaseLeases<etcdserverpb::Lease::CallbackService>>>> {
 public:
  explicit LeaseService(EtcdApi& api) : api_(api) {}
  grpc::ServerUnaryReactor* LeaseGrant(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* LeaseRevoke(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* LeaseTimeToLive(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* LeaseLeases(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

 private:
  EtcdApi& api_;
};

class MaintenanceService final
    : public etcdserverpb::Maintenance::WithRawCallbackMethod_Status<etcdserverpb::Maintenance::CallbackService> {
 public:
  explicit MaintenanceService(EtcdApi& api) : api_(api) {}
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

 private:
  EtcdApi& api_;
};

class ClusterService final
    : public etcdserverpb::Cluster::WithRawCallbackMethod_MemberList<etcdserverpb::Cluster::CallbackService> {
 public:
  explicit ClusterService(EtcdApi& api) : api_(api) {}
  grpc::ServerUnaryReactor* MemberList(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

 private:
  EtcdApi& api_;
};

class AuthService final
    : public etcdserverpb::Auth::WithRawCallbackMethod_Authenticate<etcdserverpb::Auth::CallbackService> {
 public:
  explicit AuthService(EtcdApi& api) : api_(api) {}
  grpc::ServerUnaryReactor* Authenticate(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

 private:
  EtcdApi& api_;
};

}  // namespace agent::etcd
