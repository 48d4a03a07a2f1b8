#include "etcd/watch_events.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "absl/strings/str_cat.h"
#include "etcd/gateway_json.h"
#include "etcd/gateway_json_fast.h"
#include "etcd/kv_range.h"

namespace agent::etcd {

std::string WatchShape::CacheKey() const {
  // The range's two keys are bytes (any byte may appear): length-prefixed, then the flags.
  return absl::StrCat(range.key.size(), ":", range.key, range.range_end.size(), ":", range.range_end,
                      prev_kv ? "p" : "-", no_put ? "P" : "-", no_delete ? "D" : "-");
}

std::shared_ptr<const SharedEvents> SharedEvents::Build(const store::Revision& revision, const WatchShape& shape,
                                                        const ClusterIdentity& identity) {
  std::shared_ptr<SharedEvents> built(new SharedEvents());
  etcdserverpb::WatchResponse& out = built->response_;
  for (const store::Event& event : revision.events) {
    if (!shape.range.Contains(event.kv.key)) continue;
    const bool is_delete = event.type == store::Event::Type::kDelete;
    if ((is_delete && shape.no_delete) || (!is_delete && shape.no_put)) continue;
    mvccpb::Event* e = out.add_events();
    e->set_type(is_delete ? mvccpb::Event::DELETE : mvccpb::Event::PUT);
    ToProto(event.kv, e->mutable_kv());
    built->bytes_ += event.kv.key.size() + event.kv.value.size();
    if (shape.prev_kv && event.prev_kv) {
      ToProto(*event.prev_kv, e->mutable_prev_kv());
      built->bytes_ += event.prev_kv->key.size() + event.prev_kv->value.size();
    }
  }
  if (out.events_size() == 0) return nullptr;
  identity.Fill(out.mutable_header(), revision.revision);
  // What the entry takes once its JSON is made too: the protobuf as it sits in memory, and the
  // JSON's base64 values (4/3 of the bytes) with its fixed text per event.
  built->bytes_ = out.SpaceUsedLong() + built->bytes_ * 4 / 3 + static_cast<size_t>(out.events_size()) * 160;
  return built;
}

void SharedEvents::MakeJson() const {
  std::call_once(json_once_, [this] {
    // The JSON of the response without a watch id is `{"header":{…},"events":[…]}` (a zero id is
    // not printed); a watcher's id goes right after the header, where the printer puts it.
    etcdserverpb::WatchResponse header_only;
    *header_only.mutable_header() = response_.header();
    std::string head = *WatchResponseJson(header_only);  // {"header":{…}}
    std::string whole = *WatchResponseJson(response_);
    head.pop_back();
    json_head_ = absl::StrCat("{\"result\":", head);
    json_tail_ = absl::StrCat(absl::string_view(whole).substr(head.size()), "}\n");
  });
}

etcdserverpb::WatchResponse WatchMessage::Response() const {
  if (!shared) return *own;
  etcdserverpb::WatchResponse response = shared->response();
  response.set_watch_id(watch_id);
  return response;
}

etcdserverpb::WatchResponse WatchMessage::TakeResponse() && {
  if (!shared) return *std::move(own);
  if (!exclusive) return Response();
  // Built for this watcher alone (non-const, by SharedEvents::Build), so it may be taken apart.
  etcdserverpb::WatchResponse& response = const_cast<SharedEvents&>(*shared).response_;
  response.set_watch_id(watch_id);
  etcdserverpb::WatchResponse out = std::move(response);
  shared.reset();
  return out;
}

GatewayLinePieces::GatewayLinePieces(const WatchMessage& message) {
  if (!message.shared) {
    own_ = absl::StrCat("{\"result\":", ToGatewayJson(*message.own), "}\n");
    pieces_ = {own_, {}, {}};
    return;
  }
  const SharedEvents& events = *message.shared;
  events.MakeJson();
  size_t id_size = 0;
  if (const int64_t watch_id = message.watch_id; watch_id != 0) {  // a zero id is not printed
    constexpr absl::string_view kName = ",\"watch_id\":\"";
    char* const end = id_member_ + sizeof(id_member_);
    char* out = std::copy(kName.begin(), kName.end(), id_member_);
    out = std::to_chars(out, end, watch_id).ptr;
    *out++ = '"';
    id_size = static_cast<size_t>(out - id_member_);
  }
  pieces_ = {events.json_head_, absl::string_view(id_member_, id_size), events.json_tail_};
}

std::string GatewayLinePieces::Joined() const { return absl::StrCat(pieces_[0], pieces_[1], pieces_[2]); }

std::shared_ptr<const SharedEvents> WatchEventCache::Get(const std::shared_ptr<const store::Revision>& revision,
                                                         const WatchShape& shape, const ClusterIdentity& identity,
                                                         bool* kept) {
  bool ignored;
  bool& is_kept = kept != nullptr ? *kept : ignored;
  is_kept = true;
  Key key{revision->revision, shape.CacheKey()};
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      ++hits_;
      return it->second;
    }
    ++builds_;
  }
  // Built outside the lock: another thread may build the same entry meanwhile; the first kept wins.
  std::shared_ptr<const SharedEvents> built = SharedEvents::Build(*revision, shape, identity);
  if (built == nullptr || built->bytes() > max_bytes_ / 4) {
    is_kept = false;
    return built;
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.emplace(key, built);
  if (!inserted) return it->second;
  order_.push_back(std::move(key));
  bytes_ += built->bytes();
  while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
    auto oldest = entries_.find(order_.front());
    bytes_ -= oldest->second->bytes();
    entries_.erase(oldest);
    order_.pop_front();
  }
  return built;
}

WatchEventCache::Stats WatchEventCache::stats() const {
  std::lock_guard lock(mutex_);
  return {hits_, builds_, entries_.size(), bytes_};
}

}  // namespace agent::etcd
