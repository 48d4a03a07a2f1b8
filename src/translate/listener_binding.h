// Listener binding: route vars that make a route configuration's routes match only the
// connections of the listeners (filter chains) that use it, the way Envoy dispatches a redirected
// connection by its original destination — exact address:port listeners first, then wildcard
// address:port ones, then the catch-all chains of virtualOutbound/virtualInbound for ports
// nobody else claims — and, by the APISIX port the connection arrived on, inbound apart from
// outbound. Pure; see docs/interception.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "translate/diagnostics.h"
#include "translate/listener_translator.h"

namespace agent::translate {

// Where a connection arrives at APISIX, per direction: `var` (an nginx variable) equals `outbound`
// or `inbound` — APISIX's capture ports ($server_port), or with the mesh front the unix sockets
// HTTP comes in on ($server_addr, "unix:PATH"). Empty values: direction not tested.
struct BindingPorts {
  std::string var = "server_port";
  std::string outbound;
  std::string inbound;
};

// The vars for `mine` (the destinations of the route configuration or catch-all chain `owner`),
// excluding the more specific destinations that other owners claim in `all`. Empty when `mine` is
// (a route configuration no listener uses stays unbound). `var` is the nginx variable holding the
// original destination as "ip:port" (IPv6 in brackets); empty: only the direction is bound.
std::vector<apisix::RouteVar> BindingVars(const std::vector<ChainDestination>& mine, const std::string& owner,
                                          const std::vector<RouteUse>& all, const std::string& var,
                                          const BindingPorts& ports, const std::string& resource,
                                          Diagnostics& skipped);

// The address as nginx prints it (inet_ntop's canonical form; IPv6 in brackets): xDS may spell
// it otherwise ("::0"). Unparseable text is returned as is.
std::string CanonicalAddress(const std::string& address);

// The regex (without anchors) matching the original destinations of `where`, in the text nginx
// gives them ("10.0.0.5:80", "[fd00::5]:80").
std::string DestinationPattern(const ChainDestination& where);

}  // namespace agent::translate
