#include "etcd/gateway_json_fast.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace agent::etcd {

namespace {

// Appends `"name":` after a comma when something precedes it in the object.
void Key(std::string& out, bool& first, const char* name) {
  if (!first) out += ',';
  first = false;
  absl::StrAppend(&out, "\"", name, "\":");
}
// 64-bit integers are strings in proto3 JSON.
template <typename Integer>
void Int64(std::string& out, bool& first, const char* name, Integer value) {
  static_assert(sizeof(Integer) == 8);
  if (value == 0) return;
  Key(out, first, name);
  absl::StrAppend(&out, "\"", value, "\"");
}
void Bytes(std::string& out, bool& first, const char* name, const std::string& value) {
  if (value.empty()) return;
  Key(out, first, name);
  out += '"';
  out += absl::Base64Escape(value);
  out += '"';
}
void Bool(std::string& out, bool& first, const char* name, bool value) {
  if (!value) return;
  Key(out, first, name);
  out += "true";
}

void Header(std::string& out, bool& first, const etcdserverpb::ResponseHeader& header) {
  Key(out, first, "header");
  out += '{';
  bool inner = true;
  Int64(out, inner, "cluster_id", header.cluster_id());
  Int64(out, inner, "member_id", header.member_id());
  Int64(out, inner, "revision", header.revision());
  Int64(out, inner, "raft_term", header.raft_term());
  out += '}';
}

void KeyValue(std::string& out, const mvccpb::KeyValue& kv) {
  out += '{';
  bool first = true;
  Bytes(out, first, "key", kv.key());
  Int64(out, first, "create_revision", kv.create_revision());
  Int64(out, first, "mod_revision", kv.mod_revision());
  Int64(out, first, "version", kv.version());
  Bytes(out, first, "value", kv.value());
  Int64(out, first, "lease", kv.lease());
  out += '}';
}

}  // namespace

std::string RangeResponseJson(const etcdserverpb::RangeResponse& response) {
  std::string out;
  size_t estimate = 128;
  for (const auto& kv : response.kvs()) estimate += 160 + (kv.key().size() + kv.value().size()) * 4 / 3;
  out.reserve(estimate);
  out += '{';
  bool first = true;
  if (response.has_header()) Header(out, first, response.header());
  if (response.kvs_size() > 0) {
    Key(out, first, "kvs");
    out += '[';
    for (int i = 0; i < response.kvs_size(); ++i) {
      if (i > 0) out += ',';
      KeyValue(out, response.kvs(i));
    }
    out += ']';
  }
  Bool(out, first, "more", response.more());
  Int64(out, first, "count", response.count());
  out += '}';
  return out;
}

std::optional<std::string> WatchResponseJson(const etcdserverpb::WatchResponse& response) {
  if (!response.cancel_reason().empty()) return std::nullopt;
  std::string out = "{";
  bool first = true;
  if (response.has_header()) Header(out, first, response.header());
  Int64(out, first, "watch_id", response.watch_id());
  Bool(out, first, "created", response.created());
  Bool(out, first, "canceled", response.canceled());
  Int64(out, first, "compact_revision", response.compact_revision());
  Bool(out, first, "fragment", response.fragment());
  if (response.events_size() > 0) {
    Key(out, first, "events");
    out += '[';
    for (int i = 0; i < response.events_size(); ++i) {
      const mvccpb::Event& event = response.events(i);
      if (i > 0) out += ',';
      out += '{';
      bool inner = true;
      if (event.type() == mvccpb::Event::DELETE) {
        Key(out, inner, "type");
        out += "\"DELETE\"";
      }
      if (event.has_kv()) {
        Key(out, inner, "kv");
        KeyValue(out, event.kv());
      }
      if (event.has_prev_kv()) {
        Key(out, inner, "prev_kv");
        KeyValue(out, event.prev_kv());
      }
      out += '}';
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace agent::etcd
