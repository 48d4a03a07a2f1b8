#include "absl/strings/string_view.h"
#include "etcd/kv_range.h"

#include <algorithm>
#include <variant>

namespace agent::etcd {

using etcdserverpb::RangeRequest;

void ToProto(const store::KeyValue& kv, mvccpb::KeyValue* out, bool keys_only) {
  out->set_key(kv.key);
  out->set_create_revision(kv.create_revision);
  out->set_mod_revision(kv.mod_revision);
  out->set_version(kv.version);
  if (!keys_only) out->set_value(kv.value);
  out->set_lease(kv.lease);
}

namespace {

bool PassesRevisionFilters(const RangeRequest& r, const store::KeyValue& kv) {
  if (r.min_mod_revision() > 0 && kv.mod_revision < r.min_mod_revision()) return false;
  if (r.max_mod_revision() > 0 && kv.mod_revision > r.max_mod_revision()) return false;
  if (r.min_create_revision() > 0 && kv.create_revision < r.min_create_revision()) return false;
  if (r.max_create_revision() > 0 && kv.create_revision > r.max_create_revision()) return false;
  return true;
}

bool HasRevisionFilters(const RangeRequest& r) {
  return r.min_mod_revision() > 0 || r.max_mod_revision() > 0 || r.min_create_revision() > 0 ||
         r.max_create_revision() > 0;
}

// etcd sorts only when asked; NONE with a non-key target means ascending (etcd's v3rpc).
void SortKvs(const RangeRequest& r, std::vector<store::KeyValue>& kvs) {
  RangeRequest::SortOrder order = r.sort_order();
  if (order == RangeRequest::NONE && r.sort_target() != RangeRequest::KEY) order = RangeRequest::ASCEND;
  if (order == RangeRequest::NONE) return;
  auto field = [&](const store::KeyValue& kv) -> std::variant<int64_t, absl::string_view> {
    switch (r.sort_target()) {
      case RangeRequest::VERSION: return kv.version;
      case RangeRequest::CREATE: return kv.create_revision;
      case RangeRequest::MOD: return kv.mod_revision;
      case RangeRequest::VALUE: return absl::string_view(kv.value.str());
      default: return absl::string_view(kv.key);
    }
  };
  std::stable_sort(kvs.begin(), kvs.end(), [&](const store::KeyValue& a, const store::KeyValue& b) {
    return order == RangeRequest::DESCEND ? field(b) < field(a) : field(a) < field(b);
  });
}

}  // namespace

absl::StatusOr<etcdserverpb::RangeResponse> ExecuteRange(const store::KvStore& store, const ClusterIdentity& identity,
                                                         const RangeRequest& request) {
  auto response = RangeWith([&](const store::RangeQuery& q) { return store.Range(q); }, request);
  if (response.ok()) identity.Fill(response->mutable_header(), response->header().revision());
  return response;
}

absl::StatusOr<etcdserverpb::RangeResponse> RangeWith(const RangeReader& reader, const RangeRequest& request) {
  if (request.key().empty()) return absl::InvalidArgumentError("etcdserver: key is not provided");
  if (request.revision() < 0) return absl::OutOfRangeError("etcdserver: mvcc: required revision has been compacted");

  const bool key_order = request.sort_target() == RangeRequest::KEY &&
                         (request.sort_order() == RangeRequest::NONE || request.sort_order() == RangeRequest::ASCEND);
  const bool post_process = !key_order || HasRevisionFilters(request);

  store::RangeQuery query;
  query.range = {request.key(), request.range_end()};
  query.revision = request.revision();
  query.count_only = request.count_only() && !post_process;
  query.limit = post_process ? 0 : request.limit();
  auto result = reader(query);
  if (!result.ok()) return result.status();

  etcdserverpb::RangeResponse response;
  response.mutable_header()->set_revision(result->revision);
  response.set_count(result->count);
  std::vector<store::KeyValue>& kvs = result->kvs;
  bool more = result->more;
  if (post_process) {
    kvs.erase(std::remove_if(kvs.begin(), kvs.end(),
                             [&](const store::KeyValue& kv) { return !PassesRevisionFilters(request, kv); }),
              kvs.end());
    SortKvs(request, kvs);
    if (request.limit() > 0 && static_cast<int64_t>(kvs.size()) > request.limit()) {
      kvs.resize(request.limit());
      more = true;
    }
  }
  response.set_more(more);
  if (request.count_only()) return response;
  for (const store::KeyValue& kv : kvs) ToProto(kv, response.add_kvs(), request.keys_only());
  return response;
}

}  // namespace agent::etcd
