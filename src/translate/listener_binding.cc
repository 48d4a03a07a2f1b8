#include "translate/listener_binding.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "translate/match_translator.h"

namespace agent::translate {

namespace {

// Envoy's order among overlapping destinations: the destination port first, then the longest
// address prefix (one address > one address family > any).
int Specificity(const ChainDestination& d) {
  return (d.port != 0 ? 4 : 0) + (!d.address.empty() ? 2 : d.family != ChainDestination::Family::kAny ? 1 : 0);
}

bool IsIpv6(const std::string& address) { return address.find(':') != std::string::npos; }

// Whether some connection could match both.
bool Overlaps(const ChainDestination& a, const ChainDestination& b) {
  if (a.inbound != b.inbound) return false;
  if (a.port != 0 && b.port != 0 && a.port != b.port) return false;
  if (!a.address.empty() && !b.address.empty()) return CanonicalAddress(a.address) == CanonicalAddress(b.address);
  auto family_of = [](const ChainDestination& d) {
    if (!d.address.empty()) return IsIpv6(d.address) ? ChainDestination::Family::kIpv6 : ChainDestination::Family::kIpv4;
    return d.family;
  };
  const auto fa = family_of(a), fb = family_of(b);
  return fa == ChainDestination::Family::kAny || fb == ChainDestination::Family::kAny || fa == fb;
}

std::string Alternatives(const std::vector<std::string>& patterns) {
  return absl::StrCat("^(?:", absl::StrJoin(patterns, "|"), ")$");
}

}  // namespace

std::string CanonicalAddress(const std::string& address) {
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1 && inet_ntop(AF_INET, bytes, text, sizeof text)) return text;
  if (inet_pton(AF_INET6, address.c_str(), bytes) == 1 && inet_ntop(AF_INET6, bytes, text, sizeof text)) {
    return absl::StrCat("[", text, "]");
  }
  return address;
}

std::string DestinationPattern(const ChainDestination& where) {
  std::string address;
  if (!where.address.empty()) {
    address = RegexEscape(CanonicalAddress(where.address));
  } else if (where.family == ChainDestination::Family::kIpv4) {
    address = "[0-9.]+";
  } else if (where.family == ChainDestination::Family::kIpv6) {
    address = "\\[[0-9a-f:.]+\\]";
  } else {
    address = ".*";
  }
  return absl::StrCat(address, ":", where.port == 0 ? std::string("[0-9]+") : absl::StrCat(where.port));
}

std::vector<apisix::RouteVar> BindingVars(const std::vector<ChainDestination>& mine, const std::string& owner,
                                          const std::vector<RouteUse>& all, const std::string& var,
                                          const BindingPorts& ports, const std::string& resource,
                                          Diagnostics& skipped) {
  std::vector<apisix::RouteVar> vars;
  if (mine.empty()) return vars;

  // Which APISIX port (or socket): inbound and outbound listeners must never share a route.
  std::set<std::string> arrival;
  for (const auto& d : mine) arrival.insert(d.inbound ? ports.inbound : ports.outbound);
  if (arrival.count("") == 0) {
    if (arrival.size() == 1) {
      vars.push_back({ports.var, "==", *arrival.begin(), false});
    } else {
      skipped.push_back({resource, "listeners",
                         "used by inbound and outbound listeners: its routes match on both capture ports for all of "
                         "their destinations"});
      vars.push_back({ports.var, "~~", absl::StrCat("^(?:", RegexEscape(ports.outbound), "|", RegexEscape(ports.inbound),
                                                    ")$"), false});
    }
  }

  if (var.empty()) return vars;
  // Where the connection was going: one of mine, and none that a more specific listener claims.
  std::vector<std::string> positive;
  bool universal = false;
  for (const auto& d : mine) {
    universal |= d.port == 0 && d.address.empty() && d.family == ChainDestination::Family::kAny;
    std::string p = DestinationPattern(d);
    if (std::find(positive.begin(), positive.end(), p) == positive.end()) positive.push_back(std::move(p));
  }
  std::vector<std::string> negative;
  for (const auto& use : all) {
    if (use.route_config == owner) continue;
    for (const auto& d : mine) {
      if (Specificity(use.where) > Specificity(d) && Overlaps(use.where, d)) {
        std::string p = DestinationPattern(use.where);
        if (std::find(negative.begin(), negative.end(), p) == negative.end()) negative.push_back(std::move(p));
        break;
      }
    }
  }
  std::sort(negative.begin(), negative.end());  // the same vars whatever the order of the listeners
  if (!universal) {
    const auto& only = mine.front();
    if (positive.size() == 1 && !only.address.empty() && only.port != 0) {
      vars.push_back({var, "==", CanonicalAddress(only.address) + ":" + absl::StrCat(only.port), false});
    } else {
      vars.push_back({var, "~~", Alternatives(positive), false});
    }
  }
  if (!negative.empty()) vars.push_back({var, "~~", Alternatives(negative), true});
  return vars;
}

}  // namespace agent::translate
