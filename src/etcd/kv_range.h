// etcd's Range over the store, shared by the gRPC service and the HTTP gateway.
#pragma once

#include "absl/status/statusor.h"
#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "store/kv_store.h"

namespace agent::etcd {

// Errors carry etcd's gRPC codes and messages (InvalidArgument for a missing key, OutOfRange for a
// compacted or future revision).
absl::StatusOr<etcdserverpb::RangeResponse> ExecuteRange(const store::KvStore& store, const ClusterIdentity& identity,
                                                         const etcdserverpb::RangeRequest& request);

// Store key-value → etcd's mvccpb.KeyValue.
void ToProto(const store::KeyValue& kv, mvccpb::KeyValue* out, bool keys_only = false);

}  // namespace agent::etcd
