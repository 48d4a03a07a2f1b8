#include "absl/strings/string_view.h"
#include "translate/match_translator.h"

#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace agent::translate {

using envoy::config::route::v3::HeaderMatcher;
using envoy::config::route::v3::RouteMatch;
using envoy::type::matcher::v3::StringMatcher;

bool IsUsableRegex(const std::string& pattern) {
  // ECMAScript is close enough to RE2 and PCRE to catch what neither accepts ("*.example.com").
  try {
    std::regex compiled(pattern);
    return true;
  } catch (const std::regex_error&) {
    return false;
  }
}

std::string RegexEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (absl::string_view("\\^$.|?*+()[]{}/").find(c) != absl::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

namespace {

// Header names as nginx variables.
std::string HeaderVar(const std::string& name) {
  if (name == ":method") return "request_method";
  if (name == ":authority") return "http_host";  // with the port, as :authority
  if (name == ":scheme") return "scheme";
  if (name == ":path") return "request_uri";
  return "http_" + absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"-", "_"}});
}

// A present header or parameter: any value, the empty one included (a missing one is nil and fails).
apisix::RouteVar Present(std::string var) { return {std::move(var), "~~", "^.*$", false}; }

std::optional<apisix::RouteVar> FromStringMatcher(std::string var, const StringMatcher& m) {
  const bool icase = m.ignore_case();
  const char* op = icase ? "~*" : "~~";
  switch (m.match_pattern_case()) {
    case StringMatcher::kExact:
      if (!icase) return apisix::RouteVar{std::move(var), "==", m.exact(), false};
      return apisix::RouteVar{std::move(var), op, "^" + RegexEscape(m.exact()) + "$", false};
    case StringMatcher::kPrefix:
      return apisix::RouteVar{std::move(var), op, "^" + RegexEscape(m.prefix()), false};
    case StringMatcher::kSuffix:
      return apisix::RouteVar{std::move(var), op, RegexEscape(m.suffix()) + "$", false};
    case StringMatcher::kContains:
      return apisix::RouteVar{std::move(var), op, RegexEscape(m.contains()), false};
    case StringMatcher::kSafeRegex:
      // Envoy regexes match the whole value; lua-resty-expr's ~~ searches, hence the anchors.
      return apisix::RouteVar{std::move(var), "~~", "^(?:" + m.safe_regex().regex() + ")$", false};
    default:
      return std::nullopt;
  }
}

// The legacy matchers (exact_match, prefix_match, ...) are deprecated in the API but still sent by
// older control planes, so they are read on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
std::optional<std::vector<apisix::RouteVar>> FromHeaderMatcher(const HeaderMatcher& h) {
  std::string var = HeaderVar(h.name());
  if (h.header_match_specifier_case() == HeaderMatcher::kRangeMatch) {
    // [start, end): two numeric comparisons; their negation is not a pair of vars.
    if (h.invert_match()) return std::nullopt;
    return std::vector<apisix::RouteVar>{{var, ">=", std::to_string(h.range_match().start()), false},
                                         {var, "<", std::to_string(h.range_match().end()), false}};
  }
  std::optional<apisix::RouteVar> result;
  switch (h.header_match_specifier_case()) {
    case HeaderMatcher::kExactMatch:
      result = apisix::RouteVar{var, "==", h.exact_match(), false};
      break;
    case HeaderMatcher::kSafeRegexMatch:
      result = apisix::RouteVar{var, "~~", "^(?:" + h.safe_regex_match().regex() + ")$", false};
      break;
    case HeaderMatcher::kPrefixMatch:
      result = apisix::RouteVar{var, "~~", "^" + RegexEscape(h.prefix_match()), false};
      break;
    case HeaderMatcher::kSuffixMatch:
      result = apisix::RouteVar{var, "~~", RegexEscape(h.suffix_match()) + "$", false};
      break;
    case HeaderMatcher::kContainsMatch:
      result = apisix::RouteVar{var, "~~", RegexEscape(h.contains_match()), false};
      break;
    case HeaderMatcher::kStringMatch:
      result = FromStringMatcher(var, h.string_match());
      break;
    case HeaderMatcher::kPresentMatch:
      result = Present(var);
      if (!h.present_match()) result->negate = true;
      break;
    case HeaderMatcher::HEADER_MATCH_SPECIFIER_NOT_SET:
      result = Present(var);  // Envoy: no specifier = the header must be present
      break;
    default:
      return std::nullopt;
  }
  if (!result) return std::nullopt;
  if (h.invert_match()) result->negate = !result->negate;
  return std::vector<apisix::RouteVar>{*std::move(result)};
}
#pragma GCC diagnostic pop

}  // namespace

std::optional<MatchTranslation> TranslateMatch(const RouteMatch& match, const std::string& resource,
                                               Diagnostics& skipped) {
  MatchTranslation out;
  auto refuse = [&](std::string field, std::string reason) -> std::optional<MatchTranslation> {
    skipped.push_back({resource, "match." + field, reason + "; the route is dropped rather than widened"});
    return std::nullopt;
  };

  switch (match.path_specifier_case()) {
    case RouteMatch::kPrefix:
      out.uris.push_back(match.prefix() + "*");
      break;
    case RouteMatch::kPath:
      out.uris.push_back(match.path());
      break;
    case RouteMatch::kSafeRegex:
      if (!IsUsableRegex(match.safe_regex().regex())) return refuse("safe_regex", "the regex does not compile");
      out.uris.push_back("/*");
      out.vars.push_back({"uri", "~~", "^(?:" + match.safe_regex().regex() + ")$", false});
      break;
    case RouteMatch::kPathSeparatedPrefix:
      out.uris.push_back(match.path_separated_prefix());
      out.uris.push_back(match.path_separated_prefix() + "/*");
      break;
    default:
      return refuse("path_specifier", "this path matcher has no APISIX equivalent yet");
  }
  if (match.has_case_sensitive() && !match.case_sensitive().value() &&
      match.path_specifier_case() != RouteMatch::kSafeRegex) {
    // APISIX's uris are case-sensitive: match every path and test it case-insensitively.
    const bool exact = match.path_specifier_case() == RouteMatch::kPath;
    const std::string& text = exact ? match.path() : (match.path_specifier_case() == RouteMatch::kPrefix ? match.prefix() : match.path_separated_prefix());
    std::string pattern = "^" + RegexEscape(text) + (exact ? "$" : "");
    if (match.path_specifier_case() == RouteMatch::kPathSeparatedPrefix) pattern += "(/|$)";
    out.uris = {"/*"};
    out.vars.insert(out.vars.begin(), apisix::RouteVar{"uri", "~*", pattern, false});
  }
  if (match.has_runtime_fraction()) return refuse("runtime_fraction", "traffic fractions are not translated yet");
  if (match.has_grpc()) out.vars.push_back({"http_content_type", "~~", "^application/grpc", false});
  if (match.has_tls_context()) return refuse("tls_context", "TLS context matching is not translated yet");
  if (match.dynamic_metadata_size() > 0) return refuse("dynamic_metadata", "metadata matching has no APISIX equivalent");

  for (int i = 0; i < match.headers_size(); ++i) {
    auto vars = FromHeaderMatcher(match.headers(i));
    if (!vars) return refuse(absl::StrCat("headers[", i, "]"), "this header matcher has no APISIX equivalent");
    for (auto& var : *vars) {
      if ((var.op == "~~" || var.op == "~*") && !IsUsableRegex(var.value)) {
        return refuse(absl::StrCat("headers[", i, "]"), "the regex does not compile");
      }
      out.vars.push_back(std::move(var));
    }
  }
  for (int i = 0; i < match.query_parameters_size(); ++i) {
    const auto& q = match.query_parameters(i);
    std::string var = "arg_" + q.name();
    if (q.has_string_match()) {
      auto v = FromStringMatcher(var, q.string_match());
      if (!v) return refuse(absl::StrCat("query_parameters[", i, "]"), "this string matcher has no APISIX equivalent");
      out.vars.push_back(*std::move(v));
    } else {
      out.vars.push_back(Present(var));  // present_match, or no matcher (which Envoy treats as present)
    }
  }
  return out;
}

}  // namespace agent::translate
