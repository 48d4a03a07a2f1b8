#include "etcd/cluster_identity.h"

#include "common/stable_hash.h"

namespace agent::etcd {

ClusterIdentity ClusterIdentity::ForClientUrl(std::string client_url) {
  ClusterIdentity identity;
  identity.member_id = StableHash64("member:" + client_url) | 1;  // never 0: etcd omits zero
  identity.cluster_id = StableHash64("cluster:" + client_url) | 1;
  identity.client_url = std::move(client_url);
  return identity;
}

}  // namespace agent::etcd
