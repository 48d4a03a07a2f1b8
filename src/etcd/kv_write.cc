#include "etcd/kv_write.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "etcd/kv_range.h"

namespace agent::etcd {

using etcdserverpb::Compare;

namespace {

// Limits as etcd's defaults (embed.DefaultMaxTxnOps).
constexpr int kMaxTxnOps = 128;

absl::Status CheckGuard(const KvWriteContext& context, const std::string& key) {
  return context.guard ? context.guard(key) : absl::OkStatus();
}

absl::Status CheckDeleteGuard(const KvWriteContext& context, store::WriteTxn& txn, const store::KeyRange& range) {
  if (!context.guard) return absl::OkStatus();
  for (const store::KeyValue& kv : txn.Range({range}).kvs) {
    if (absl::Status s = context.guard(kv.key); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The header revision etcd gives a sub-response: the revision as of that operation.
int64_t OperationRevision(const store::WriteTxn& txn, bool wrote) {
  return wrote ? txn.write_revision() : txn.read_revision();
}

absl::StatusOr<etcdserverpb::PutResponse> PutIn(const KvWriteContext& context, store::WriteTxn& txn,
                                                const etcdserverpb::PutRequest& request) {
  if (request.key().empty()) return absl::InvalidArgumentError("etcdserver: key is not provided");
  if (request.ignore_value() && !request.value().empty()) {
    return absl::InvalidArgumentError("etcdserver: value is provided");
  }
  if (request.ignore_lease() && request.lease() != 0) {
    return absl::InvalidArgumentError("etcdserver: lease is provided");
  }
  if (absl::Status s = CheckGuard(context, request.key()); !s.ok()) return s;
  auto prev = txn.Put(request.key(), request.value(), request.lease(), request.ignore_value(), request.ignore_lease());
  if (!prev.ok()) return prev.status();
  etcdserverpb::PutResponse response;
  response.mutable_header()->set_revision(txn.write_revision());
  if (request.prev_kv() && prev->has_value()) ToProto(**prev, response.mutable_prev_kv());
  return response;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteIn(const KvWriteContext& context, store::WriteTxn& txn,
                                                           const etcdserverpb::DeleteRangeRequest& request,
                                                           bool& wrote) {
  if (request.key().empty()) return absl::InvalidArgumentError("etcdserver: key is not provided");
  store::KeyRange range{request.key(), request.range_end()};
  if (absl::Status s = CheckDeleteGuard(context, txn, range); !s.ok()) return s;
  std::vector<store::KeyValue> deleted = txn.DeleteRange(range);
  wrote |= !deleted.empty();
  etcdserverpb::DeleteRangeResponse response;
  response.mutable_header()->set_revision(OperationRevision(txn, wrote));
  response.set_deleted(static_cast<int64_t>(deleted.size()));
  if (request.prev_kv()) {
    for (const auto& kv : deleted) ToProto(kv, response.add_prev_kvs());
  }
  return response;
}

template <typename T>
int Sign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool CompareOne(const Compare& c, const store::KeyValue& kv) {
  int r = 0;
  switch (c.target()) {
    case Compare::VERSION: r = Sign(kv.version, c.version()); break;
    case Compare::CREATE: r = Sign(kv.create_revision, c.create_revision()); break;
    case Compare::MOD: r = Sign(kv.mod_revision, c.mod_revision()); break;
    case Compare::VALUE: r = Sign(kv.value.str(), c.value()); break;
    case Compare::LEASE: r = Sign(kv.lease, c.lease()); break;
    default: return false;
  }
  switch (c.result()) {
    case Compare::EQUAL: return r == 0;
    case Compare::GREATER: return r > 0;
    case Compare::LESS: return r < 0;
    case Compare::NOT_EQUAL: return r != 0;
    default: return false;
  }
}

// etcd's applyCompare: every key in the range must satisfy it; no key compares as a zero
// key-value, except that a VALUE compare on no key always fails.
bool Evaluate(const Compare& c, const store::WriteTxn& txn) {
  std::vector<store::KeyValue> kvs = txn.Range({store::KeyRange{c.key(), c.range_end()}}).kvs;
  if (kvs.empty()) return c.target() != Compare::VALUE && CompareOne(c, store::KeyValue{});
  for (const auto& kv : kvs) {
    if (!CompareOne(c, kv)) return false;
  }
  return true;
}

absl::Status CheckTxnCounts(const etcdserverpb::TxnRequest& request) {
  if (request.compare_size() > kMaxTxnOps || request.success_size() > kMaxTxnOps ||
      request.failure_size() > kMaxTxnOps) {
    return absl::InvalidArgumentError("etcdserver: too many operations in txn request");
  }
  for (const auto* branch : {&request.success(), &request.failure()}) {
    for (const auto& op : *branch) {
      if (!op.has_request_txn()) continue;
      if (absl::Status s = CheckTxnCounts(op.request_txn()); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// A delete's interval as etcd's adt tree holds it: [key, range_end), or the single key when
// range_end is empty. Compared as plain strings, so "\0" (all keys from key) covers no put,
// exactly as in etcd 3.4.
struct DeleteInterval {
  std::string begin, end;
  bool Covers(const std::string& key) const { return end.empty() ? key == begin : begin <= key && key < end; }
};

struct TxnWrites {
  std::set<std::string> puts;
  std::vector<DeleteInterval> dels;
  bool Deletes(const std::string& key) const {
    for (const auto& d : dels) {
      if (d.Covers(key)) return true;
    }
    return false;
  }
};

absl::Status DuplicateKey() { return absl::InvalidArgumentError("etcdserver: duplicate key given in txn request"); }

// etcd's checkIntervals: within one branch — nested txns included — no key is put twice and no
// put falls in a delete's range. A nested txn's success and failure may put the same key (only
// one of them runs).
absl::StatusOr<TxnWrites> CheckIntervals(const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) {
  TxnWrites out;
  for (const auto& op : ops) {
    if (op.has_request_delete_range()) {
      out.dels.push_back({op.request_delete_range().key(), op.request_delete_range().range_end()});
    }
  }
  for (const auto& op : ops) {
    if (!op.has_request_txn()) continue;
    absl::StatusOr<TxnWrites> then = CheckIntervals(op.request_txn().success());
    if (!then.ok()) return then.status();
    absl::StatusOr<TxnWrites> otherwise = CheckIntervals(op.request_txn().failure());
    if (!otherwise.ok()) return otherwise.status();
    for (const std::string& key : then->puts) {
      if (out.puts.contains(key) || out.Deletes(key)) return DuplicateKey();
      out.puts.insert(key);
    }
    for (const std::string& key : otherwise->puts) {
      if (out.puts.contains(key) && !then->puts.contains(key)) return DuplicateKey();
      if (out.Deletes(key)) return DuplicateKey();
      out.puts.insert(key);
    }
    out.dels.insert(out.dels.end(), then->dels.begin(), then->dels.end());
    out.dels.insert(out.dels.end(), otherwise->dels.begin(), otherwise->dels.end());
  }
  for (const auto& op : ops) {
    if (!op.has_request_put()) continue;
    const std::string& key = op.request_put().key();
    if (out.puts.contains(key) || out.Deletes(key)) return DuplicateKey();
    out.puts.insert(key);
  }
  return out;
}

// etcd's checkTxnRequest and checkIntervals, before anything runs.
absl::Status CheckTxnShape(const etcdserverpb::TxnRequest& request) {
  if (absl::Status s = CheckTxnCounts(request); !s.ok()) return s;
  for (const auto* branch : {&request.success(), &request.failure()}) {
    if (absl::StatusOr<TxnWrites> writes = CheckIntervals(*branch); !writes.ok()) return writes.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<etcdserverpb::TxnResponse> TxnIn(const KvWriteContext& context, store::WriteTxn& txn,
                                                const etcdserverpb::TxnRequest& request, bool& wrote) {
  bool succeeded = true;
  for (const Compare& c : request.compare()) {
    if (!Evaluate(c, txn)) {
      succeeded = false;
      break;
    }
  }
  etcdserverpb::TxnResponse response;
  response.set_succeeded(succeeded);
  for (const auto& op : succeeded ? request.success() : request.failure()) {
    auto* out = response.add_responses();
    switch (op.request_case()) {
      case etcdserverpb::RequestOp::kRequestRange: {
        auto range = RangeWith([&](const store::RangeQuery& q) -> absl::StatusOr<store::RangeResult> {
          if (q.revision != 0 && q.revision != txn.read_revision()) {
            return absl::InvalidArgumentError("etcdserver: a range inside a txn reads the current revision only");
          }
          return txn.Range(q);
        }, op.request_range());
        if (!range.ok()) return range.status();
        range->mutable_header()->set_revision(OperationRevision(txn, wrote));
        *out->mutable_response_range() = *std::move(range);
        break;
      }
      case etcdserverpb::RequestOp::kRequestPut: {
        auto put = PutIn(context, txn, op.request_put());
        if (!put.ok()) return put.status();
        wrote = true;
        *out->mutable_response_put() = *std::move(put);
        break;
      }
      case etcdserverpb::RequestOp::kRequestDeleteRange: {
        auto deleted = DeleteIn(context, txn, op.request_delete_range(), wrote);
        if (!deleted.ok()) return deleted.status();
        *out->mutable_response_delete_range() = *std::move(deleted);
        break;
      }
      case etcdserverpb::RequestOp::kRequestTxn: {
        auto nested = TxnIn(context, txn, op.request_txn(), wrote);
        if (!nested.ok()) return nested.status();
        nested->mutable_header()->Clear();  // etcd 3.4 gives a nested txn an empty header
        *out->mutable_response_txn() = *std::move(nested);
        break;
      }
      default:
        return absl::InvalidArgumentError("etcdserver: empty request in txn");
    }
  }
  return response;
}

}  // namespace

// One write call as one store transaction; the header carries the revision after it.
template <typename Response, typename Op>
absl::StatusOr<Response> InTransaction(const KvWriteContext& context, Op op) {
  Response response;
  auto revision = context.store.Transact([&](store::WriteTxn& txn) -> absl::Status {
    absl::StatusOr<Response> result = op(txn);
    if (!result.ok()) return result.status();
    response = *std::move(result);
    return absl::OkStatus();
  });
  if (!revision.ok()) return revision.status();
  context.identity.Fill(response.mutable_header(), *revision);
  return response;
}

absl::StatusOr<etcdserverpb::PutResponse> ExecutePut(const KvWriteContext& context,
                                                     const etcdserverpb::PutRequest& request) {
  return InTransaction<etcdserverpb::PutResponse>(context, [&](store::WriteTxn& txn) {
    return PutIn(context, txn, request);
  });
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> ExecuteDeleteRange(const KvWriteContext& context,
                                                                     const etcdserverpb::DeleteRangeRequest& request) {
  return InTransaction<etcdserverpb::DeleteRangeResponse>(context, [&](store::WriteTxn& txn) {
    bool wrote = false;
    return DeleteIn(context, txn, request, wrote);
  });
}

absl::StatusOr<etcdserverpb::TxnResponse> ExecuteTxn(const KvWriteContext& context,
                                                     const etcdserverpb::TxnRequest& request) {
  if (absl::Status s = CheckTxnShape(request); !s.ok()) return s;
  return InTransaction<etcdserverpb::TxnResponse>(context, [&](store::WriteTxn& txn) {
    bool wrote = false;
    return TxnIn(context, txn, request, wrote);
  });
}

absl::StatusOr<etcdserverpb::CompactionResponse> ExecuteCompact(const KvWriteContext& context,
                                                                const etcdserverpb::CompactionRequest& request) {
  if (absl::Status s = context.store.Compact(request.revision()); !s.ok()) return s;
  etcdserverpb::CompactionResponse response;
  context.identity.Fill(response.mutable_header(), context.store.current_revision());
  return response;
}

}  // namespace agent::etcd
