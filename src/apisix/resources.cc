#include "apisix/resources.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace agent::apisix {
namespace {

// APISIX schema limits: name up to 100 characters, desc up to 256. Cut at a character boundary:
// half a UTF-8 sequence is not a string any JSON encoder (or APISIX) takes.
std::string_view Truncate(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;  // a continuation byte
  return std::string_view(text).substr(0, end);
}

constexpr double kDefaultProxyTimeoutSeconds = 60;  // nginx's proxy_send/read_timeout default

// The encoding is written directly, as nlohmann's dump() writes the same object (keys sorted,
// no spaces, its escapes and its number format): the bytes are unchanged from the DOM encoder
// the agent used before, which tests/apisix/resources_test.cc keeps as the reference. At mesh
// scale building the DOM was a fifth of the start's main thread.
void AppendString(std::string& out, std::string_view text) {
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
      }
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

void AppendDouble(std::string& out, double value) { out.append(nlohmann::json(value).dump()); }

template <typename Strings>
void AppendStrings(std::string& out, const Strings& strings) {
  out.push_back('[');
  bool first = true;
  for (const auto& s : strings) {
    if (!first) out.push_back(',');
    first = false;
    AppendString(out, s);
  }
  out.push_back(']');
}

// An object's members, written in the order given (the callers give them sorted, as nlohmann's
// std::map-backed objects print).
class Members {
 public:
  explicit Members(std::string& out) : out_(out) { out_.push_back('{'); }
  ~Members() { out_.push_back('}'); }
  Members(const Members&) = delete;
  Members& operator=(const Members&) = delete;

  std::string& Key(std::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(key);
    out_.append("\":");
    return out_;
  }

 private:
  std::string& out_;
  bool first_ = true;
};

void AppendTimeout(std::string& out, double connect, double send_read) {
  Members timeout(out);
  AppendDouble(timeout.Key("connect"), connect);
  AppendDouble(timeout.Key("read"), send_read);
  AppendDouble(timeout.Key("send"), send_read);
}

// Written into a buffer kept per thread and returned as an exact-size copy: the store keeps each
// value as long as it is live, and a grown string's spare capacity (up to half of it) with it.
template <typename Write>
std::string Encoded(Write write) {
  thread_local std::string buffer;
  buffer.clear();
  write(buffer);
  return std::string(buffer);
}

}  // namespace

std::string EncodeJson(const Route& route) {
  return Encoded([&route](std::string& out) {
    Members j(out);
    if (!route.desc.empty()) AppendString(j.Key("desc"), Truncate(route.desc, kMaxDescLength));
    if (!route.hosts.empty()) AppendStrings(j.Key("hosts"), route.hosts);
    AppendString(j.Key("id"), route.id);
    AppendString(j.Key("name"), Truncate(route.name, 100));
    if (!route.plugins.empty()) j.Key("plugins").append(route.plugins.dump());
    absl::StrAppend(&j.Key("priority"), route.priority);
    j.Key("status").push_back('1');
    if (route.timeout_seconds) {
      AppendTimeout(j.Key("timeout"), route.timeout_connect_seconds.value_or(kDefaultProxyTimeoutSeconds),
                    *route.timeout_seconds);
    }
    if (!route.upstream_id.empty()) AppendString(j.Key("upstream_id"), route.upstream_id);
    AppendStrings(j.Key("uris"), route.uris);
    if (!route.vars.empty()) {
      std::string& vars = j.Key("vars");
      vars.push_back('[');
      for (size_t i = 0; i < route.vars.size(); ++i) {
        const RouteVar& v = route.vars[i];
        if (i > 0) vars.push_back(',');
        if (v.negate) {
          AppendStrings(vars, std::initializer_list<std::string_view>{v.var, "!", v.op, v.value});
        } else {
          AppendStrings(vars, std::initializer_list<std::string_view>{v.var, v.op, v.value});
        }
      }
      vars.push_back(']');
    }
  });
}

std::string EncodeJson(const Upstream& upstream) {
  return Encoded([&upstream](std::string& out) {
    Members j(out);
    if (!upstream.checks.is_null()) j.Key("checks").append(upstream.checks.dump());
    if (!upstream.desc.empty()) AppendString(j.Key("desc"), Truncate(upstream.desc, kMaxDescLength));
    const bool chash = upstream.type == "chash";
    if (chash) AppendString(j.Key("hash_on"), upstream.hash_on);
    AppendString(j.Key("id"), upstream.id);
    if (chash) AppendString(j.Key("key"), upstream.key);
    AppendString(j.Key("name"), Truncate(upstream.name, 100));
    std::string& nodes = j.Key("nodes");
    nodes.push_back('[');
    for (size_t i = 0; i < upstream.nodes.size(); ++i) {
      const UpstreamNode& n = upstream.nodes[i];
      if (i > 0) nodes.push_back(',');
      Members node(nodes);
      AppendString(node.Key("host"), n.host);
      absl::StrAppend(&node.Key("port"), n.port);
      if (n.priority != 0) absl::StrAppend(&node.Key("priority"), n.priority);
      absl::StrAppend(&node.Key("weight"), n.weight);
    }
    nodes.push_back(']');
    if (!upstream.upstream_host.empty()) AppendString(j.Key("pass_host"), "rewrite");
    if (upstream.retries) absl::StrAppend(&j.Key("retries"), *upstream.retries);
    if (!upstream.scheme.empty()) AppendString(j.Key("scheme"), upstream.scheme);
    if (upstream.connect_timeout_seconds || upstream.idle_timeout_seconds) {
      const double idle = upstream.idle_timeout_seconds.value_or(kDefaultProxyTimeoutSeconds);
      AppendTimeout(j.Key("timeout"), upstream.connect_timeout_seconds.value_or(kDefaultProxyTimeoutSeconds), idle);
    }
    AppendString(j.Key("type"), upstream.type);
    if (!upstream.upstream_host.empty()) AppendString(j.Key("upstream_host"), upstream.upstream_host);
  });
}

std::string EncodeJson(const StreamRoute& route) {
  return Encoded([&route](std::string& out) {
    Members j(out);
    AppendString(j.Key("id"), route.id);
    AppendString(j.Key("server_addr"), route.server_addr);
    absl::StrAppend(&j.Key("server_port"), route.server_port);
    AppendString(j.Key("upstream_id"), route.upstream_id);
  });
}

}  // namespace agent::apisix
