#include "etcd/watch_stream.h"

#include <vector>

#include "absl/strings/str_cat.h"

#include "etcd/kv_range.h"

namespace agent::etcd {

using etcdserverpb::WatchCreateRequest;
using etcdserverpb::WatchResponse;

WatchStream::WatchStream(store::KvStore& store, const ClusterIdentity& identity, std::function<void()> wake,
                         WatchStreamContext context)
    : store_(store),
      identity_(identity),
      wake_(std::move(wake)),
      budget_(context.budget),
      registry_(context.registry),
      events_(context.events),
      protocol_(context.protocol),
      peer_(std::move(context.peer)) {
  if (registry_ != nullptr) registry_->Join(this);
}

WatchStream::~WatchStream() { Shutdown(); }

void WatchStream::Shutdown() {
  // Leave first, outside mutex_: the registry describes streams under its own lock, which then
  // takes mutex_, so a stream never takes the registry's lock while holding its own.
  WatchRegistry* registry = nullptr;
  {
    std::lock_guard lock(mutex_);
    std::swap(registry, registry_);
  }
  if (registry != nullptr) registry->Leave(this);
  std::map<int64_t, std::unique_ptr<Watcher>> retired;
  {
    std::lock_guard lock(mutex_);
    retired.swap(watchers_);
  }
  if (budget_ != nullptr) budget_->Release(retired.size());
}

void WatchStream::Sent(size_t events, size_t bytes) {
  WatchRegistry* registry;
  {
    std::lock_guard lock(mutex_);
    registry = registry_;
  }
  if (registry != nullptr) registry->RecordSent(protocol_, events, bytes);
}

WatchStreamStatus WatchStream::Describe() {
  WatchStreamStatus status;
  status.protocol = protocol_;
  status.peer = peer_;
  status.opened = opened_;
  std::lock_guard lock(mutex_);
  const int64_t current = store_.current_revision();
  status.watchers.reserve(watchers_.size());
  for (const auto& [id, watcher] : watchers_) {
    WatcherStatus w;
    w.id = id;
    w.key = watcher->shape.range.key;
    w.range_end = watcher->shape.range.range_end;
    // Sent up to the revision before its first pending one: an idle watcher's position does not
    // move while its range is quiet, but it has missed nothing up to the current revision.
    const int64_t first_pending = FirstPendingLocked(*watcher, current);
    w.pending = first_pending > 0;
    w.sent_revision = w.pending ? first_pending - 1 : current;
    status.watchers.push_back(std::move(w));
  }
  return status;
}

void WatchStream::Handle(const etcdserverpb::WatchRequest& request) {
  switch (request.request_union_case()) {
    case etcdserverpb::WatchRequest::kCreateRequest:
      Create(request.create_request());
      break;
    case etcdserverpb::WatchRequest::kCancelRequest:
      Cancel(request.cancel_request().watch_id());
      break;
    case etcdserverpb::WatchRequest::kProgressRequest: {
      std::lock_guard lock(mutex_);
      progress_requested_ = true;  // answered by Next() once every watcher has caught up
      break;
    }
    default:
      return;
  }
  wake_();
}

void WatchStream::Create(const WatchCreateRequest& request) {
  if (budget_ != nullptr) {
    size_t on_stream;
    {
      std::lock_guard lock(mutex_);
      on_stream = watchers_.size();
    }
    const char* refused = nullptr;
    if (on_stream >= budget_->limits().per_stream) {
      refused = "too many watches on this stream";
    } else if (!budget_->TryAcquire()) {
      refused = "too many watches on this server";
    }
    if (refused != nullptr) {
      WatchResponse response;
      identity_.Fill(response.mutable_header(), store_.current_revision());
      response.set_created(true);
      response.set_canceled(true);
      response.set_watch_id(-1);
      response.set_cancel_reason(absl::StrCat("etcdserver: ", refused, " (limit ",
                                              on_stream >= budget_->limits().per_stream ? budget_->limits().per_stream
                                                                                         : budget_->limits().total,
                                              ")"));
      std::lock_guard lock(mutex_);
      control_.push_back(std::move(response));
      return;
    }
  }
  auto watcher = std::make_unique<Watcher>();
  watcher->shape.range = {request.key(), request.range_end()};
  watcher->shape.prev_kv = request.prev_kv();
  for (int filter : request.filters()) {
    if (filter == WatchCreateRequest::NOPUT) watcher->shape.no_put = true;
    if (filter == WatchCreateRequest::NODELETE) watcher->shape.no_delete = true;
  }
  const int64_t current = store_.current_revision();
  watcher->next_revision = request.start_revision() > 0 ? request.start_revision() : current + 1;
  // Subscribe before taking mutex_ (lock order: store notifications may be waiting for mutex_).
  watcher->subscription = store_.Subscribe(watcher->shape.range, [wake = wake_](int64_t) { wake(); });

  std::unique_ptr<Watcher> rejected;
  std::lock_guard lock(mutex_);
  WatchResponse created;
  identity_.Fill(created.mutable_header(), current);
  created.set_created(true);
  int64_t id = request.watch_id();
  if (id != 0 && watchers_.count(id) > 0) {
    created.set_watch_id(-1);
    created.set_canceled(true);
    created.set_cancel_reason("mvcc: duplicate watch ID provided on the WatchStream");
    rejected = std::move(watcher);
    if (budget_ != nullptr) budget_->Release();
  } else {
    if (id == 0) {
      while (watchers_.count(next_watch_id_) > 0) ++next_watch_id_;
      id = next_watch_id_++;
    }
    watcher->id = id;
    created.set_watch_id(id);
    watchers_.emplace(id, std::move(watcher));
  }
  control_.push_back(std::move(created));
  // `rejected` is destroyed after `lock` is released (declared before it).
}

void WatchStream::Cancel(int64_t watch_id) {
  std::unique_ptr<Watcher> retired;
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(watch_id);
  if (it == watchers_.end()) return;
  retired = std::move(it->second);
  watchers_.erase(it);
  if (budget_ != nullptr) budget_->Release();
  WatchResponse canceled;
  identity_.Fill(canceled.mutable_header(), store_.current_revision());
  canceled.set_watch_id(watch_id);
  canceled.set_canceled(true);
  control_.push_back(std::move(canceled));
}

bool WatchStream::NextEvents(Watcher& w, WatchMessage& out, bool& compacted) {
  while (true) {
    SkipQuietHistory(w);
    store::WatchRead read = store_.ReadEvents(w.shape.range, w.next_revision, 1);
    if (read.compact_revision > 0) {
      // etcd's shape: no revision in the header, canceled with the oldest revision still replayable.
      WatchResponse& canceled = out.own.emplace();
      identity_.Fill(canceled.mutable_header(), 0);
      canceled.set_watch_id(w.id);
      canceled.set_canceled(true);
      canceled.set_compact_revision(read.compact_revision);
      compacted = true;
      return true;
    }
    w.next_revision = read.next_revision;
    w.subscription->ReadUpTo(w.next_revision);
    if (read.revisions.empty()) return false;
    // Built once per revision and shape, shared with every other watcher of that shape.
    bool kept = false;
    out.shared = events_ != nullptr ? events_->Get(read.revisions.front(), w.shape, identity_, &kept)
                                    : SharedEvents::Build(*read.revisions.front(), w.shape, identity_);
    if (out.shared == nullptr) continue;  // everything in this revision was filtered out
    out.watch_id = w.id;
    out.exclusive = !kept;
    return true;
  }
}

std::optional<WatchResponse> WatchStream::Next() {
  std::optional<WatchMessage> message = NextMessage();
  if (!message) return std::nullopt;
  return std::move(*message).TakeResponse();
}

std::optional<WatchMessage> WatchStream::NextMessage() {
  std::unique_ptr<Watcher> retired;  // destroyed after the lock is released
  std::lock_guard lock(mutex_);
  if (control_head_ < control_.size()) {
    WatchMessage message;
    message.own = std::move(control_[control_head_++]);
    if (control_head_ == control_.size()) {
      std::vector<WatchResponse>().swap(control_);
      control_head_ = 0;
    }
    return message;
  }
  const int64_t current = store_.current_revision();
  if (progress_requested_ && AllSyncedLocked(current)) {
    // etcd 3.5: a progress notification, for no watch in particular, never ahead of pending events.
    progress_requested_ = false;
    WatchMessage message;
    identity_.Fill(message.own.emplace().mutable_header(), current);
    message.own->set_watch_id(-1);
    return message;
  }
  if (watchers_.empty()) return std::nullopt;
  // Round robin: start after the watcher served last, so one busy watcher cannot starve others.
  auto start = watchers_.upper_bound(last_served_);
  for (size_t visited = 0; visited < watchers_.size(); ++visited, ++start) {
    if (start == watchers_.end()) start = watchers_.begin();
    Watcher& w = *start->second;
    if (w.next_revision > current) continue;
    WatchMessage response;
    bool compacted = false;
    if (!NextEvents(w, response, compacted)) continue;
    last_served_ = w.id;
    if (compacted) {
      retired = std::move(start->second);
      watchers_.erase(start);
      if (budget_ != nullptr) budget_->Release();
    }
    return response;
  }
  return std::nullopt;
}

}  // namespace agent::etcd

namespace agent::etcd {

void WatchStream::SkipQuietHistory(Watcher& w) const {
  // An idle watcher's position only moves when its range changes; if nothing of its range
  // happened since, history compacted (or trimmed) past it lost nothing: it moves up, as an etcd
  // watcher that is in sync does, instead of being canceled.
  if (const int64_t oldest = store_.compacted_revision();
      w.next_revision < oldest && w.subscription->LostNothingBefore(w.next_revision, oldest)) {
    w.next_revision = oldest;
  }
}

int64_t WatchStream::FirstPendingLocked(Watcher& w, int64_t current) const {
  SkipQuietHistory(w);
  if (w.next_revision > current) return 0;
  // Pending only if history holds events in its range; a watcher whose range saw no change is synced.
  store::WatchRead read = store_.ReadEvents(w.shape.range, w.next_revision, 1);
  if (read.compact_revision > 0) return w.next_revision;  // behind the history: about to be canceled
  return read.revisions.empty() ? 0 : read.revisions.front()->revision;
}

bool WatchStream::AllSyncedLocked(int64_t current) const {
  for (const auto& [id, watcher] : watchers_) {
    if (FirstPendingLocked(*watcher, current) > 0) return false;
  }
  return true;
}

}  // namespace agent::etcd
