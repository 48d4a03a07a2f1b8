// etcd's Range over the store, shared by the gRPC service, the HTTP gateway and Txn.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "store/kv_store.h"

namespace agent::etcd {

// Errors carry etcd's gRPC codes and messages (InvalidArgument for a missing key, OutOfRange for a
// compacted or future revision).
absl::StatusOr<etcdserverpb::RangeResponse> ExecuteRange(const store::KvStore& store, const ClusterIdentity& identity,
                                                         const etcdserverpb::RangeRequest& request);

// The same over any reader (a store, or a write transaction seeing its own writes). The header
// is left for the caller to fill.
using RangeReader = std::function<absl::StatusOr<store::RangeResult>(const store::RangeQuery&)>;
absl::StatusOr<etcdserverpb::RangeResponse> RangeWith(const RangeReader& reader,
                                                      const etcdserverpb::RangeRequest& request);

// Store key-value → etcd's mvccpb.KeyValue.
void ToProto(const store::KeyValue& kv, mvccpb::KeyValue* out, bool keys_only = false);

}  // namespace agent::etcd
