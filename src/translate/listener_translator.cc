#include "translate/listener_translator.h"

#include <algorithm>
#include <set>

#include <google/protobuf/struct.pb.h>

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"

namespace agent::translate {

using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;

namespace {

// HTTP filters whose effect the translation reproduces: routing itself, and the filters whose
// per-route configuration becomes plugins.
bool IsTranslatedHttpFilter(
    const envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter& filter) {
  static const std::set<std::string> kTranslated = {
      "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
      "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
      "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"};
  return kTranslated.count(filter.typed_config().type_url()) > 0 ||
         filter.name() == "envoy.filters.http.router" || filter.name() == "envoy.router";
}

// The JSON loader replaces Anys of unknown types with a Struct naming the original type.
std::string OriginalTypeUrl(const google::protobuf::Any& any) {
  google::protobuf::Struct placeholder;
  if (any.Is<google::protobuf::Struct>() && any.UnpackTo(&placeholder)) {
    auto it = placeholder.fields().find("unknown_type_url");
    if (it != placeholder.fields().end()) return it->second.string_value();
  }
  return any.type_url();
}


bool IsAnyAddress(const std::string& address) { return address.empty() || address == "0.0.0.0" || address == "::"; }

// A listener that receives redirected connections and matches its chains on their original
// destination (Envoy's original_dst listener filter, or use_original_dst): a chain without a
// destination port is the catch-all for ports nobody else claims.
bool MatchesOriginalDestination(const envoy::config::listener::v3::Listener& listener) {
  if (listener.has_use_original_dst() && listener.use_original_dst().value()) return true;
  for (const auto& filter : listener.listener_filters()) {
    if (filter.name() == "envoy.filters.listener.original_dst" ||
        filter.typed_config().type_url() ==
            "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst") {
      return true;
    }
  }
  return false;
}

// The destination a chain serves; false (the reason in `skipped`) when it cannot be expressed.
// `virtual_listener`: MatchesOriginalDestination(listener).
bool ChainDestinationOf(const envoy::config::listener::v3::Listener& listener, bool virtual_listener,
                        const envoy::config::listener::v3::FilterChain& chain, const std::string& resource,
                        Diagnostics& skipped, ChainDestination& out) {
  const auto& socket = listener.address().socket_address();
  const auto& match = chain.filter_chain_match();
  out.inbound = listener.traffic_direction() == envoy::config::core::v3::INBOUND;
  out.port = match.has_destination_port() ? match.destination_port().value()
                                          : (virtual_listener ? 0 : socket.port_value());
  if (!virtual_listener && !IsAnyAddress(socket.address())) out.address = socket.address();
  if (match.prefix_ranges_size() > 1) {
    skipped.push_back({resource, absl::StrCat("filter_chains[", chain.name(), "].filter_chain_match.prefix_ranges"),
                       "several destination ranges cannot be bound; the chain is not translated"});
    return false;
  }
  if (match.prefix_ranges_size() == 1) {
    const auto& range = match.prefix_ranges(0);
    const bool v6 = range.address_prefix().find(':') != std::string::npos;
    const uint32_t full = v6 ? 128 : 32;
    const uint32_t length = range.has_prefix_len() ? range.prefix_len().value() : full;
    if (length == 0) {
      out.family = v6 ? ChainDestination::Family::kIpv6 : ChainDestination::Family::kIpv4;
    } else if (length == full) {
      out.address = range.address_prefix();
    } else {
      skipped.push_back({resource, absl::StrCat("filter_chains[", chain.name(), "].filter_chain_match.prefix_ranges"),
                         absl::StrCat(range.address_prefix(), "/", length,
                                      ": only single addresses and whole address families can be bound; the chain "
                                      "is not translated")});
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ChainDestination::ToString() const {
  std::string where = address.empty() ? (family == Family::kIpv4 ? "IPv4 *" : family == Family::kIpv6 ? "IPv6 *" : "*")
                                      : (address.find(':') != std::string::npos ? absl::StrCat("[", address, "]") : address);
  return absl::StrCat(inbound ? "inbound " : "outbound ", where, ":", port == 0 ? std::string("*") : absl::StrCat(port));
}

ListenerRoutes ExtractListenerRoutes(const envoy::config::listener::v3::Listener& listener, Diagnostics& skipped) {
  ListenerRoutes out;
  const std::string resource = absl::StrCat("Listener ", listener.name());
  const bool virtual_listener = MatchesOriginalDestination(listener);
  auto visit_chain = [&](const envoy::config::listener::v3::FilterChain& chain) {
    if (chain.has_transport_socket() && chain.transport_socket().name() != "envoy.transport_sockets.raw_buffer") {
      skipped.push_back({resource, absl::StrCat("filter_chains[", chain.name(), "].transport_socket"),
                         "terminating TLS needs certificates from SDS; this chain's TLS is not translated"});
    }
    ChainDestination where;
    // A chain whose destinations cannot be told apart is not translated at all: unbound, its
    // routes would take connections that belong to other listeners.
    if (!ChainDestinationOf(listener, virtual_listener, chain, resource, skipped, where)) return;
    for (const auto& filter : chain.filters()) {
      if (filter.has_typed_config() && filter.typed_config().Is<TcpProxy>()) {
        TcpProxy tcp;
        if (!filter.typed_config().UnpackTo(&tcp)) {
          skipped.push_back({resource, absl::StrCat("filter ", filter.name()), "does not decode"});
          continue;
        }
        if (virtual_listener && where.port == 0 && tcp.has_cluster()) {
          out.catch_alls.push_back({listener.name(), chain.name(), tcp.cluster(), where});
        }
        TcpChain t;
        t.listener = listener.name();
        t.chain = chain.name();
        t.where = where;
        t.cluster = tcp.cluster();
        for (const auto& c : tcp.weighted_clusters().clusters()) t.weighted.emplace_back(c.name(), c.weight());
        if (tcp.has_idle_timeout()) {
          t.idle_timeout_seconds = tcp.idle_timeout().seconds() + tcp.idle_timeout().nanos() / 1e9;
        }
        t.server_names = chain.filter_chain_match().server_names_size() > 0;
        out.tcp_chains.push_back(std::move(t));
        continue;
      }
      if (!filter.has_typed_config() || !filter.typed_config().Is<HttpConnectionManager>()) {
        skipped.push_back({resource, absl::StrCat("filter ", filter.name()),
                           absl::StrCat("network filter not translated (", OriginalTypeUrl(filter.typed_config()),
                                        "); only HTTP connection managers and tcp_proxy are")});
        continue;
      }
      HttpConnectionManager hcm;
      if (!filter.typed_config().UnpackTo(&hcm)) {
        skipped.push_back({resource, absl::StrCat("filter ", filter.name()), "does not decode"});
        continue;
      }
      for (const auto& http_filter : hcm.http_filters()) {
        if (!IsTranslatedHttpFilter(http_filter)) {
          skipped.push_back({resource, absl::StrCat("http_filter ", http_filter.name()),
                             absl::StrCat("not translated (", OriginalTypeUrl(http_filter.typed_config()), ")")});
        }
      }
      std::string config_name;
      if (hcm.has_rds()) {
        config_name = hcm.rds().route_config_name();
        if (std::find(out.rds_names.begin(), out.rds_names.end(), config_name) == out.rds_names.end()) {
          out.rds_names.push_back(config_name);
        }
      } else if (hcm.has_route_config()) {
        auto config = hcm.route_config();
        if (config.name().empty()) config.set_name(absl::StrCat(listener.name(), "/inline"));
        config_name = config.name();
        out.inline_configs.push_back(std::move(config));
      } else if (hcm.has_scoped_routes()) {
        skipped.push_back({resource, "scoped_routes", "scoped route configurations are not translated"});
      }
      if (!config_name.empty()) out.uses.push_back({config_name, where});
    }
  };
  for (const auto& chain : listener.filter_chains()) visit_chain(chain);
  if (listener.has_default_filter_chain()) visit_chain(listener.default_filter_chain());
  return out;
}

}  // namespace agent::translate
