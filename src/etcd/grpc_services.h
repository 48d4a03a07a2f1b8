// etcd's gRPC services over the store (callback API: no thread per stream).
#pragma once

#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "store/kv_store.h"

namespace agent::etcd {

// KV: Range. Put, DeleteRange, Txn and Compact answer UNIMPLEMENTED for now (the base class).
class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  KvService(const store::KvStore& store, const ClusterIdentity& identity) : store_(store), identity_(identity) {}

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context, const etcdserverpb::RangeRequest* request,
                                  etcdserverpb::RangeResponse* response) override;

 private:
  const store::KvStore& store_;
  const ClusterIdentity& identity_;
};

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  WatchService(store::KvStore& store, const ClusterIdentity& identity) : store_(store), identity_(identity) {}

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* context) override;

 private:
  store::KvStore& store_;
  const ClusterIdentity& identity_;
};

}  // namespace agent::etcd
