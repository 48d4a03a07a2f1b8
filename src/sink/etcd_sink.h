// The etcd sink (--etcd-sink): writes what the agent serves into an external etcd v3 cluster, for
// APISIX instances that are not beside the agent (a gateway fleet, VMs). The agent's own store stays
// the desired state; the sink follows it commit by commit (the reconciler's commit observer):
//
//  - One etcd transaction per xDS change, split only when a change has more than --max-txn-ops
//    operations (sink_plan.h: Split, in an order that never leaves a route without its upstream).
//  - Every transaction is guarded: it commits only while this agent is the elected writer (the
//    create revision of its election key, which dies with its lease) and only if the marker key is
//    still as this agent last wrote it; the marker records the agent's revision and the part.
//  - The keys it owns carry labels[managed-by] = --etcd-sink-owner; nothing else under the prefix
//    is read as its own or touched. On becoming the writer, after every failure, after each
//    reconnect and every --etcd-sink-resync seconds it reconciles the cluster's owned keys
//    against the desired state: a bounded diff (what differs, missing or stale), nothing written
//    when nothing changed.
//  - Several agents may run against one cluster: they campaign on <prefix>/mesh-agent/<owner>/election/
//    as etcd's concurrency package does (a lease-backed key each; the lowest create revision
//    leads); the others stand by and watch the key ahead of theirs, taking over when its lease
//    expires.
//  - When the cluster is unreachable it keeps the desired state, retries with backoff (jittered,
//    up to 5 s), is not ready, and converges when the cluster is back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "sink/etcd_client.h"
#include "sink/sink_plan.h"
#include "store/kv_store.h"

namespace agent::sink {

struct EtcdSinkOptions {
  std::string prefix = "/apisix";          // --etcd-key-prefix
  std::string owner = "apisix-mesh-agent";  // --etcd-sink-owner: the label value and election scope
  std::string identity;                    // who this agent is, in its election key (pod name, host)
  size_t max_txn_ops = 128;                // --max-txn-ops (etcd's default --max-txn-ops)
  int lease_ttl_seconds = 10;              // --etcd-sink-lease-ttl
  int resync_seconds = 300;                // --etcd-sink-resync: the writer's periodic diff (0: never)
};

class EtcdSink {
 public:
  enum class Role { kConnecting, kStandby, kLeader };
  struct Status {
    Role role = Role::kConnecting;
    bool synced = false;          // leader: the cluster holds the desired state as of `local_revision`
    std::string endpoint;
    std::string last_error;
    int64_t local_revision = 0;   // the agent's revision the cluster was last written to
    int64_t etcd_revision = 0;    // the cluster's revision of that write
    int64_t transactions = 0;     // written since start
    int64_t repairs = 0;          // full reconciliations run
    int64_t repair_ops = 0;       // operations they wrote
    int64_t resumes = 0;          // failed writes continued from the marker (no repair needed)
    size_t pending = 0;           // changes queued behind the writer
    size_t owned = 0;             // keys in the desired state
    size_t unwritable = 0;        // objects larger than the cluster accepts, left out
  };

  EtcdSink(EtcdSinkOptions options, std::unique_ptr<EtcdClient> client);
  ~EtcdSink();

  void Start();
  // Steps down (revokes its lease, so a standby takes over at once) and stops. Idempotent.
  void Stop();

  // The reconciler's commit observer: one call per commit of the agent's store, in commit order,
  // with the keys the agent put and deleted. Cheap: it records and wakes the writer.
  void OnCommit(int64_t revision, const std::vector<store::Mutation>& mutations);

  Status GetStatus() const;
  // Ready: a standby with a live session, or the writer with the cluster in sync.
  bool ready() const;
  // "" when ready, else why not (the readiness probe's body).
  std::string NotReadyReason() const;
  static const char* RoleName(Role role);

 private:
  struct Change {
    int64_t revision = 0;
    std::vector<Op> ops;
  };

  void Run();
  // One session: a lease, the campaign, then writing while it leads. Returns why it ended.
  absl::Status Session();
  absl::Status Campaign(int64_t lease, const std::string& key, int64_t& election_revision);
  // The owned keys found under the prefix, as of one revision (paged).
  absl::Status ReadOwned(std::map<std::string, std::string>& actual);
  // The diff of the cluster's owned keys against the desired state, written. `idle_only`: a check
  // that runs only with no change queued (`skipped` says it did not run).
  absl::Status Repair(bool idle_only, bool& skipped);
  // After a failed write: the marker says whether it committed; continue from there, or repair
  // when the cluster is not as this agent left it.
  absl::Status Resume();
  // Writes one queued change (marked as the owner's), from the part not yet committed.
  absl::Status WriteChange(const Change& change);
  void PopFront(int64_t revision);
  // Drops puts of values the cluster refused as too large (until they change).
  void LeaveOutUnwritable(std::vector<Op>& ops);
  // Writes `ops` (marked) from part next_part_ on, in as many guarded transactions as
  // --max-txn-ops needs.
  absl::Status WriteParts(int64_t local_revision, std::vector<Op> ops);
  absl::Status Commit(int64_t local_revision, const std::vector<Op>& ops, size_t part, size_t parts);
  void KeepAlive();
  bool Sleep(std::chrono::milliseconds d);  // false when stopping

  const EtcdSinkOptions options_;
  const std::unique_ptr<EtcdClient> client_;
  const std::string election_prefix_;  // <prefix>/mesh-agent/<owner>/election/
  const std::string marker_key_;       // <prefix>/mesh-agent/<owner>/revision
  const std::string upstream_dir_;     // <prefix>/upstreams/

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  // The desired state (key → the value as served locally, unmarked) and the changes not yet written.
  std::map<std::string, store::SharedValue> desired_;
  int64_t desired_revision_ = 0;
  std::deque<Change> pending_;
  Status status_;

  bool overflowed_ = false;  // the queue was dropped: repair (guarded by mutex_)

  // Owned by the writer thread (read by its wait predicate under mutex_).
  enum class Next { kRepair, kResume, kQueue };
  Next next_ = Next::kRepair;
  bool verify_when_drained_ = false;  // after a resume: one diff once the queue is written
  size_t next_part_ = 0;             // parts of the change being written that have committed
  Marker last_committed_;
  // Operations per transaction besides the marker: --max-txn-ops - 1, halved when the cluster's
  // own limits turn out lower.
  size_t ops_per_txn_;
  bool must_repair_ = false;  // a refused transaction: the rest of its change goes by diff
  std::map<std::string, store::SharedValue> unwritable_;  // key → the marked value the cluster refused            // the marker of our last transaction known to have committed
  bool repairing_ = false;  // the marker says "repair" (a diff, not one change)
  int64_t election_revision_ = 0;   // the create revision of our election key: the write guard
  std::string election_key_;
  int64_t marker_revision_ = 0;     // the marker's mod revision as we last wrote or read it

  // A diff against the cluster is due: the keeper heard from it again after failing, or
  // --etcd-sink-resync passed since the last one (keys changed or deleted behind the agent's back).
  std::atomic<bool> resync_due_{false};
  std::chrono::steady_clock::time_point last_repair_;  // writer thread
  std::atomic<int64_t> lease_{0};   // the session's lease (0: none); kept alive by keeper_
  std::vector<int64_t> unrevoked_;  // leases of ended sessions the cluster did not answer to revoke (writer thread)
  std::atomic<bool> lease_lost_{false};
  std::thread writer_;
  std::thread keeper_;
};

}  // namespace agent::sink
