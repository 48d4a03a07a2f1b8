#include "sink/etcd_sink.h"

#include <algorithm>
#include <optional>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "nlohmann/json.hpp"

namespace agent::sink {

namespace {

constexpr size_t kPageSize = 1000;          // keys per range page while reading the cluster's state
constexpr size_t kMaxPendingChanges = 1000;  // beyond this, one repair replaces the queued changes
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

// The key just after every key starting with `prefix` (etcd's range_end for a prefix).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

// etcd's --max-request-bytes and --max-txn-ops, as its server words them.
bool BeyondClusterLimits(const absl::Status& s) {
  return absl::StrContains(s.message(), "request is too large") ||
         absl::StrContains(s.message(), "too many operations in txn request");
}

}  // namespace

EtcdSink::EtcdSink(EtcdSinkOptions options, std::unique_ptr<EtcdClient> client)
    : options_(std::move(options)), client_(std::move(client)),
      election_prefix_(absl::StrCat(options_.prefix, "/mesh-agent/", options_.owner, "/election/")),
      marker_key_(absl::StrCat(options_.prefix, "/mesh-agent/", options_.owner, "/revision")),
      upstream_dir_(absl::StrCat(options_.prefix, "/upstreams/")),
      ops_per_txn_(std::max<size_t>(options_.max_txn_ops, 2) - 1) {}

EtcdSink::~EtcdSink() { Stop(); }

const char* EtcdSink::RoleName(Role role) {
  switch (role) {
    case Role::kConnecting: return "connecting";
    case Role::kStandby: return "standby";
    case Role::kLeader: return "leader";
  }
  return "?";
}

void EtcdSink::Start() {
  log::Info("etcd sink: writing %s/ into %s as owner %s (at most %d operations per transaction, lease %d s)",
            options_.prefix, client_->endpoint(), options_.owner, options_.max_txn_ops, options_.lease_ttl_seconds);
  writer_ = std::thread([this] { Run(); });
  keeper_ = std::thread([this] { KeepAlive(); });
}

void EtcdSink::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (keeper_.joinable()) keeper_.join();
}

void EtcdSink::OnCommit(int64_t revision, const std::vector<store::Mutation>& mutations) {
  Change change{revision, {}};
  change.ops.reserve(mutations.size());
  std::lock_guard lock(mutex_);
  for (const store::Mutation& m : mutations) {
    if (m.kind == store::Mutation::Kind::kPut) {
      desired_.insert_or_assign(m.key, m.value);
      change.ops.push_back({m.key, m.value});
    } else {
      desired_.erase(m.key);
      change.ops.push_back({m.key, std::nullopt});
    }
  }
  desired_revision_ = revision;
  status_.owned = desired_.size();
  // Only the writer queues: a standby (or a writer that has lost the cluster) repairs from the
  // desired state when it (again) writes.
  if (status_.role == Role::kLeader) {
    if (pending_.size() >= kMaxPendingChanges) {
      pending_.clear();
      overflowed_ = true;  // one bounded diff instead of a thousand queued transactions
      status_.synced = false;
    } else {
      pending_.push_back(std::move(change));
    }
  }
  wake_.notify_all();
}

EtcdSink::Status EtcdSink::GetStatus() const {
  std::lock_guard lock(mutex_);
  Status s = status_;
  s.pending = pending_.size();
  s.endpoint = client_->endpoint();
  return s;
}

bool EtcdSink::ready() const {
  std::lock_guard lock(mutex_);
  return status_.role == Role::kStandby || (status_.role == Role::kLeader && status_.synced);
}

std::string EtcdSink::NotReadyReason() const {
  const Status s = GetStatus();
  if (s.role == Role::kStandby || (s.role == Role::kLeader && s.synced)) return "";
  return absl::StrCat("etcd sink: ", s.role == Role::kLeader ? "writing, not yet in sync" : "connecting",
                      s.last_error.empty() ? "" : absl::StrCat(" (", s.last_error, ")"));
}

bool EtcdSink::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void EtcdSink::Run() {
  std::mt19937 random(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    const auto began = std::chrono::steady_clock::now();
    absl::Status s = Session();
    const int64_t lease = lease_.exchange(0);
    bool stopping;
    bool reachable;  // the session ended with the cluster answering: a revoke will not wait out timeouts
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      reachable = s.ok() && status_.last_error.empty();
      status_.role = Role::kConnecting;
      status_.synced = false;
      pending_.clear();
      if (!s.ok()) status_.last_error = std::string(s.message());
    }
    // Revoked, the election key goes at once and a standby takes over without waiting for the TTL.
    // After a failure it is tried too (the cluster may answer again), except on the way out: a
    // stopping agent does not wait out a timeout per member for a lease that expires anyway.
    if (lease != 0 && (reachable || !stopping) && !client_->LeaseRevoke(lease).ok()) {
      unrevoked_.push_back(lease);  // revoked when the cluster answers again (see Session)
    }
    if (stopping) break;
    log::Warn("etcd sink: %s; again in %d ms", s.message(), backoff.count());
    if (std::chrono::steady_clock::now() - began > std::chrono::seconds(30)) backoff = std::chrono::milliseconds(100);
    const auto jitter = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, backoff.count() / 2)(random));
    if (!Sleep(backoff + jitter)) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  log::Info("etcd sink: stopped");
}

absl::Status EtcdSink::Session() {
  auto grant = client_->LeaseGrant(options_.lease_ttl_seconds);
  if (!grant.ok()) return grant.status();
  // A lease of an earlier session that could not be revoked (the cluster was down) still holds an
  // election key ahead of the new one until it expires: revoke it now that the cluster answers.
  for (const int64_t old : unrevoked_) (void)client_->LeaseRevoke(old);
  unrevoked_.clear();
  lease_lost_ = false;
  lease_ = grant->id();
  const std::string key = absl::StrCat(election_prefix_, absl::StrFormat("%016x", grant->id()));
  {
    std::lock_guard lock(mutex_);
    status_.role = Role::kStandby;
    status_.last_error.clear();
  }
  if (auto s = Campaign(grant->id(), key, election_revision_); !s.ok()) return s;
  election_key_ = key;
  marker_revision_ = -1;  // unknown until the repair reads it
  {
    std::lock_guard lock(mutex_);
    status_.role = Role::kLeader;
    status_.synced = false;
    pending_.clear();
  }
  log::Info("etcd sink: elected writer (%s, create revision %d)", key, election_revision_);
  next_ = Next::kRepair;  // what the cluster holds is unknown until read
  next_part_ = 0;

  std::mt19937 random(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    std::optional<Change> change;  // a copy: the queue's front stays until all its parts commit
    if (options_.resync_seconds > 0 &&
        std::chrono::steady_clock::now() - last_repair_ >= std::chrono::seconds(options_.resync_seconds)) {
      resync_due_ = true;
    }
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] {
        return stopping_ || lease_lost_ || overflowed_ || next_ != Next::kQueue || !pending_.empty() ||
               verify_when_drained_ || resync_due_;
      });
      if (stopping_) return absl::OkStatus();
      if (overflowed_) {
        overflowed_ = false;
        next_ = Next::kRepair;
      }
      if (next_ == Next::kQueue && !pending_.empty()) change = pending_.front();
    }
    if (lease_lost_) return absl::UnavailableError("the session's lease expired: no longer the writer");
    absl::Status s;
    if (next_ == Next::kRepair ||
        (next_ == Next::kQueue && !change.has_value() && (verify_when_drained_ || resync_due_))) {
      // verify_when_drained_ (after a resume) and resync_due_: whatever else happened to the
      // cluster meanwhile (normally nothing: a read, no write).
      bool skipped = false;
      s = Repair(/*idle_only=*/next_ != Next::kRepair, skipped);
      if (s.ok() && !skipped) {
        next_ = Next::kQueue;
        verify_when_drained_ = false;
        resync_due_ = false;
      }
    } else if (next_ == Next::kResume) {
      s = Resume();
    } else if (change.has_value()) {
      s = WriteChange(*change);
    } else {
      continue;
    }
    if (s.ok()) {
      backoff = std::chrono::milliseconds(100);
      std::lock_guard lock(mutex_);
      status_.synced = next_ == Next::kQueue && !verify_when_drained_;
      if (status_.synced) status_.last_error.clear();
      continue;
    }
    if (s.code() == absl::StatusCode::kAborted) return s;  // another agent writes now
    // A write may or may not have committed (the marker says which), or the cluster changed under
    // us (another writer: repair from the desired state). The lease stays; the keeper says when it
    // is gone.
    // A compare that failed on the marker may be our own transaction, retried on another member
    // after its first answer was lost: the marker tells that too.
    next_ = next_ == Next::kRepair || must_repair_ ? Next::kRepair : Next::kResume;
    must_repair_ = false;
    {
      std::lock_guard lock(mutex_);
      status_.synced = false;
      status_.last_error = std::string(s.message());
    }
    log::Warn("etcd sink: %s; %s in %d ms", s.message(), next_ == Next::kRepair ? "repairing" : "resuming",
              backoff.count());
    const auto jitter = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, backoff.count() / 2)(random));
    if (!Sleep(backoff + jitter)) return absl::OkStatus();
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status EtcdSink::Resume() {
  etcdserverpb::RangeRequest range;
  range.set_key(marker_key_);
  auto read = client_->Range(range);
  if (!read.ok()) return read.status();
  marker_revision_ = read->kvs().empty() ? 0 : read->kvs(0).mod_revision();
  const std::optional<Marker> found =
      read->kvs().empty() ? std::nullopt : DecodeMarker(read->kvs(0).value());
  std::optional<Change> front;
  {
    std::lock_guard lock(mutex_);
    if (!pending_.empty()) front = pending_.front();
  }
  Marker in_flight;
  if (front) {
    in_flight.agent = options_.identity;
    in_flight.revision = front->revision;
    in_flight.part = next_part_ + 1;
  }
  switch (DecideResume(found, last_committed_, in_flight)) {
    case ResumeFrom::kResend:
      break;  // the write that failed did not commit: it goes again
    case ResumeFrom::kCommitted:  // it did (its answer was lost)
      last_committed_ = *found;
      next_part_ = found->part;
      if (found->part == found->parts) PopFront(front->revision);
      break;
    case ResumeFrom::kRepair:
      log::Info("etcd sink: the cluster is not as this agent left it (marker at revision %d): repairing",
                marker_revision_);
      next_ = Next::kRepair;
      return absl::OkStatus();
  }
  std::lock_guard lock(mutex_);
  status_.resumes += 1;
  next_ = Next::kQueue;
  verify_when_drained_ = true;
  return absl::OkStatus();
}

void EtcdSink::LeaveOutUnwritable(std::vector<Op>& ops) {
  if (unwritable_.empty()) return;
  ops.erase(std::remove_if(ops.begin(), ops.end(),
                           [this](const Op& op) {
                             auto it = unwritable_.find(op.key);
                             if (it == unwritable_.end()) return false;
                             if (op.is_put() && *op.value == it->second) return true;
                             unwritable_.erase(it);  // changed or deleted: it may fit now
                             return false;
                           }),
            ops.end());
  std::lock_guard lock(mutex_);
  status_.unwritable = unwritable_.size();
}

void EtcdSink::PopFront(int64_t revision) {
  next_part_ = 0;
  std::lock_guard lock(mutex_);
  // The queue may have been dropped meanwhile (overflow): pop only the change just written.
  if (!pending_.empty() && pending_.front().revision == revision) pending_.pop_front();
}

absl::Status EtcdSink::WriteChange(const Change& change) {
  std::vector<Op> ops = change.ops;
  for (Op& op : ops) {
    if (!op.is_put()) continue;
    auto marked = MarkOwned(op.value->str(), options_.owner);
    if (!marked.ok()) return absl::InternalError(absl::StrCat(op.key, ": ", marked.status().message()));
    op.value = store::SharedValue(std::move(*marked));
  }
  LeaveOutUnwritable(ops);
  if (auto s = WriteParts(change.revision, std::move(ops)); !s.ok()) return s;  // next_part_: how far it got
  PopFront(change.revision);
  return absl::OkStatus();
}

absl::Status EtcdSink::Campaign(int64_t lease, const std::string& key, int64_t& election_revision) {
  etcdserverpb::TxnRequest txn;
  auto* compare = txn.add_compare();
  compare->set_key(key);
  compare->set_target(etcdserverpb::Compare::CREATE);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_create_revision(0);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(options_.identity);
  put->set_lease(lease);
  txn.add_failure()->mutable_request_range()->set_key(key);
  auto created = client_->Txn(txn);
  if (!created.ok()) return created.status();
  if (created->succeeded()) {
    election_revision = created->header().revision();
  } else {
    const auto& kvs = created->responses(0).response_range().kvs();
    if (kvs.empty()) return absl::UnavailableError("the election key vanished while it was created");
    election_revision = kvs[0].create_revision();
  }
  bool announced = false;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return absl::CancelledError("stopping");
    }
    if (lease_lost_) return absl::UnavailableError("the session's lease expired while standing by");
    etcdserverpb::RangeRequest range;
    range.set_key(election_prefix_);
    range.set_range_end(PrefixEnd(election_prefix_));
    range.set_keys_only(true);
    auto candidates = client_->Range(range);
    if (!candidates.ok()) return candidates.status();
    const mvccpb::KeyValue* ahead = nullptr;  // the candidate just before us
    bool mine_present = false;
    for (const auto& kv : candidates->kvs()) {
      if (kv.key() == key) mine_present = true;
      if (kv.create_revision() < election_revision && (!ahead || kv.create_revision() > ahead->create_revision())) {
        ahead = &kv;
      }
    }
    if (!mine_present) return absl::UnavailableError("the election key is gone (its lease expired)");
    if (ahead == nullptr) return absl::OkStatus();
    if (!announced) {
      log::Info("etcd sink: standing by behind %s (another agent writes)", ahead->key());
      announced = true;
    }
    auto deleted = client_->WaitForDelete(ahead->key(), candidates->header().revision() + 1, std::chrono::seconds(1));
    if (!deleted.ok()) return deleted.status();
  }
}

absl::Status EtcdSink::ReadOwned(std::map<std::string, std::string>& actual) {
  // One revision for every page, and the marker read at it too: the guard of the first write is
  // "nothing was written since what was read".
  const std::string from = options_.prefix + "/";
  const std::string end = PrefixEnd(from);
  const std::string own = absl::StrCat(options_.prefix, "/mesh-agent/");
  etcdserverpb::RangeRequest range;
  range.set_key(from);
  range.set_range_end(end);
  range.set_limit(kPageSize);
  int64_t revision = 0;
  for (;;) {
    auto page = client_->Range(range);
    if (!page.ok()) return page.status();
    if (revision == 0) {
      revision = page->header().revision();
      range.set_revision(revision);
    }
    for (const auto& kv : page->kvs()) {
      if (absl::StartsWith(kv.key(), own)) continue;
      if (OwnedBy(kv.value(), options_.owner)) actual.emplace(kv.key(), kv.value());
    }
    if (!page->more() || page->kvs().empty()) break;
    range.set_key(page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0'));
  }
  etcdserverpb::RangeRequest marker;
  marker.set_key(marker_key_);
  marker.set_revision(revision);
  auto m = client_->Range(marker);
  if (!m.ok()) return m.status();
  marker_revision_ = m->kvs().empty() ? 0 : m->kvs(0).mod_revision();
  return absl::OkStatus();
}

absl::Status EtcdSink::Repair(bool idle_only, bool& skipped) {
  std::map<std::string, store::SharedValue> desired;
  int64_t revision;
  {
    std::lock_guard lock(mutex_);
    // A check (idle_only) compares the cluster with what it should hold once every queued change
    // is written: it waits for the queue to drain, so each change still lands as its own
    // transaction. A repair proper replaces the queue: the diff covers it.
    skipped = idle_only && !pending_.empty();
    if (skipped) return absl::OkStatus();
    desired = desired_;
    revision = desired_revision_;
    pending_.clear();  // empty already for a check; later commits queue behind it
  }
  for (auto& [key, value] : desired) {
    auto marked = MarkOwned(value.str(), options_.owner);
    if (!marked.ok()) return absl::InternalError(absl::StrCat(key, ": ", marked.status().message()));
    value = store::SharedValue(std::move(*marked));
  }
  std::map<std::string, std::string> actual;
  if (auto s = ReadOwned(actual); !s.ok()) return s;
  std::vector<Op> ops = Diff(desired, actual);
  LeaveOutUnwritable(ops);
  const size_t count = ops.size();
  if (!ops.empty()) {
    log::Info("etcd sink: repairing %d keys (%d owned in the cluster, %d desired)", ops.size(), actual.size(),
              desired.size());
    next_part_ = 0;
    repairing_ = true;
    absl::Status s = WriteParts(revision, std::move(ops));
    repairing_ = false;
    if (!s.ok()) return s;
  }
  last_repair_ = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  status_.synced = true;
  status_.local_revision = std::max(status_.local_revision, revision);
  status_.last_error.clear();
  status_.repairs += 1;
  status_.repair_ops += static_cast<int64_t>(count);
  return absl::OkStatus();
}

absl::Status EtcdSink::WriteParts(int64_t local_revision, std::vector<Op> ops) {
  // Each part leaves the cluster servable; etcd's --max-txn-ops counts the marker's put too.
  std::vector<std::vector<Op>> parts = Split(std::move(ops), ops_per_txn_, upstream_dir_);
  for (size_t i = next_part_; i < parts.size(); ++i) {
    if (auto s = Commit(local_revision, parts[i], i + 1, parts.size()); !s.ok()) return s;
    next_part_ = i + 1;
  }
  next_part_ = 0;  // the next write starts at its first part
  std::lock_guard lock(mutex_);
  status_.local_revision = std::max(status_.local_revision, local_revision);
  return absl::OkStatus();
}

absl::Status EtcdSink::Commit(int64_t local_revision, const std::vector<Op>& ops, size_t part, size_t parts) {
  if (marker_revision_ < 0) return absl::FailedPreconditionError("the marker key has not been read yet");
  etcdserverpb::TxnRequest txn;
  auto* leader = txn.add_compare();  // still the elected writer: our election key, not a successor's
  leader->set_key(election_key_);
  leader->set_target(etcdserverpb::Compare::CREATE);
  leader->set_result(etcdserverpb::Compare::EQUAL);
  leader->set_create_revision(election_revision_);
  auto* marker = txn.add_compare();  // and nothing was written in between (0: the marker is absent)
  marker->set_key(marker_key_);
  marker->set_target(etcdserverpb::Compare::MOD);
  marker->set_result(etcdserverpb::Compare::EQUAL);
  marker->set_mod_revision(marker_revision_);
  for (const Op& op : ops) {
    if (op.is_put()) {
      auto* put = txn.add_success()->mutable_request_put();
      put->set_key(op.key);
      put->set_value(op.value->str());
    } else {
      txn.add_success()->mutable_request_delete_range()->set_key(op.key);
    }
  }
  const Marker written{options_.identity, local_revision, part, parts, ops.size(), repairing_};
  auto* mark = txn.add_success()->mutable_request_put();
  mark->set_key(marker_key_);
  mark->set_value(EncodeMarker(written));
  txn.add_failure()->mutable_request_range()->set_key(election_key_);

  auto response = client_->Txn(txn);
  if (!response.ok()) {
    if (BeyondClusterLimits(response.status())) {
      // Nothing was written. Smaller transactions from now on, and a repair writes what this
      // change still needs (a split already in progress cannot be re-cut without losing track of
      // which parts committed). A single object too large for the cluster is left out, named.
      if (ops.size() > 1) {
        ops_per_txn_ = std::max<size_t>(1, ops.size() / 2);
        log::Warn("etcd sink: %s: the cluster's limits are below --max-txn-ops/--max-request-bytes; writing at "
                  "most %d operations per transaction from now on",
                  response.status().message(), ops_per_txn_);
      } else if (!ops.empty() && ops[0].is_put()) {
        log::Error("etcd sink: %s is %d bytes, more than the cluster accepts in one request (%s): left out until it "
                   "changes; raise etcd's --max-request-bytes",
                   ops[0].key, ops[0].value->size(), response.status().message());
        unwritable_[ops[0].key] = *ops[0].value;
      }
      must_repair_ = true;
      return absl::ResourceExhaustedError(absl::StrCat("the cluster refused a transaction of ", ops.size(),
                                                       " operations: ", response.status().message()));
    }
    marker_revision_ = -1;  // the write may have committed: read the marker again before the next
    return response.status();
  }
  if (!response->succeeded()) {
    marker_revision_ = -1;
    const auto& kvs = response->responses(0).response_range().kvs();
    if (kvs.empty() || kvs[0].create_revision() != election_revision_) {
      return absl::AbortedError("the election moved on (our lease expired): another agent writes now");
    }
    return absl::FailedPreconditionError(
        absl::StrCat(marker_key_, " changed since it was read (another writer?): repairing"));
  }
  marker_revision_ = response->header().revision();
  last_committed_ = written;
  std::lock_guard lock(mutex_);
  status_.etcd_revision = response->header().revision();
  status_.transactions += 1;
  return absl::OkStatus();
}

void EtcdSink::KeepAlive() {
  int64_t kept = 0;
  bool failing = false;
  auto last_ok = std::chrono::steady_clock::now();
  const auto ttl = std::chrono::seconds(options_.lease_ttl_seconds);
  for (;;) {
    const int64_t lease = lease_.load();
    if (lease != kept) {
      kept = lease;
      last_ok = std::chrono::steady_clock::now();
    }
    if (lease != 0 && !lease_lost_) {
      auto left = client_->KeepAliveOnce(lease);
      if (!left.ok()) failing = true;
      if (left.ok() && *left > 0) {
        last_ok = std::chrono::steady_clock::now();
        if (failing) {  // the cluster answers again: what happened to it meanwhile is checked
          failing = false;
          log::Info("etcd sink: the cluster answers again; checking it against the desired state");
          std::lock_guard lock(mutex_);
          resync_due_ = true;
          wake_.notify_all();
        }
      } else if (((left.ok() && *left <= 0) || std::chrono::steady_clock::now() - last_ok >= ttl) &&
                 lease_.load() == lease) {  // not a session that has ended (and revoked it) meanwhile
        log::Warn("etcd sink: lease %x lost (%s)", lease,
                  left.ok() ? "expired" : std::string(left.status().message()));
        std::lock_guard lock(mutex_);
        lease_lost_ = true;
        wake_.notify_all();
      }
    }
    if (!Sleep(lease == 0 ? std::chrono::milliseconds(200)
                          : std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3)) {
      return;
    }
  }
}

}  // namespace agent::sink
