#pragma once

#include <cstdint>
#include <string>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"

namespace agent::etcd {

// What etcd puts in every response header besides the revision. The agent is a one-member cluster;
// its IDs derive from its client URL so they are stable across restarts, as etcd's are.
struct ClusterIdentity {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  uint64_t raft_term = 1;
  std::string client_url;  // e.g. http://127.0.0.1:2379

  static ClusterIdentity ForClientUrl(std::string client_url);

  void Fill(etcdserverpb::ResponseHeader* header, int64_t revision) const {
    header->set_cluster_id(cluster_id);
    header->set_member_id(member_id);
    header->set_revision(revision);
    header->set_raft_term(raft_term);
  }
};

}  // namespace agent::etcd
