#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apisix/resources.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "translate/diagnostics.h"

namespace agent::translate {

// What an Envoy RouteMatch becomes in APISIX: uris plus vars. nullopt when some condition cannot
// be expressed: dropping it would widen the route, so the caller drops the whole route instead.
struct MatchTranslation {
  std::vector<std::string> uris;
  std::vector<apisix::RouteVar> vars;
};

std::optional<MatchTranslation> TranslateMatch(const envoy::config::route::v3::RouteMatch& match,
                                               const std::string& resource, Diagnostics& skipped);

// Whether a regex from xDS compiles at all; one that does not is reported, never emitted.
bool IsUsableRegex(const std::string& pattern);

// Escapes `text` for use as a literal inside a PCRE pattern.
std::string RegexEscape(const std::string& text);

}  // namespace agent::translate
