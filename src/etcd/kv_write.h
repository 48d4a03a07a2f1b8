// etcd's write calls over the store — Put, DeleteRange, Txn, Compact — shared by gRPC and HTTP.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "etcd/cluster_identity.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "store/kv_store.h"

namespace agent::etcd {

// Whether a client may write (put or delete) a key. The agent answers FailedPrecondition for keys
// its xDS translation owns; everything else is the client's, with etcd's semantics.
using WriteGuard = std::function<absl::Status(const std::string& key)>;

struct KvWriteContext {
  store::KvStore& store;
  const ClusterIdentity& identity;
  WriteGuard guard;  // empty = every key writable
};

absl::StatusOr<etcdserverpb::PutResponse> ExecutePut(const KvWriteContext& context,
                                                     const etcdserverpb::PutRequest& request);
absl::StatusOr<etcdserverpb::DeleteRangeResponse> ExecuteDeleteRange(const KvWriteContext& context,
                                                                     const etcdserverpb::DeleteRangeRequest& request);
absl::StatusOr<etcdserverpb::TxnResponse> ExecuteTxn(const KvWriteContext& context,
                                                     const etcdserverpb::TxnRequest& request);
absl::StatusOr<etcdserverpb::CompactionResponse> ExecuteCompact(const KvWriteContext& context,
                                                                const etcdserverpb::CompactionRequest& request);

}  // namespace agent::etcd
