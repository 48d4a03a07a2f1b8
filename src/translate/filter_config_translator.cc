#include "translate/filter_config_translator.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "translate/match_translator.h"

namespace agent::translate {

using nlohmann::json;

namespace {

constexpr char kFaultFilter[] = "envoy.filters.http.fault";
constexpr char kCorsFilter[] = "envoy.filters.http.cors";

const google::protobuf::Any* FilterConfig(const envoy::config::route::v3::Route& route,
                                          const envoy::config::route::v3::VirtualHost& vhost, const char* name) {
  if (auto it = route.typed_per_filter_config().find(name); it != route.typed_per_filter_config().end()) {
    return &it->second;
  }
  if (auto it = vhost.typed_per_filter_config().find(name); it != vhost.typed_per_filter_config().end()) {
    return &it->second;
  }
  return nullptr;
}

void TranslateFault(const google::protobuf::Any& any, const std::string& resource, apisix::Route& out,
                    Diagnostics& skipped) {
  envoy::extensions::filters::http::fault::v3::HTTPFault fault;
  if (!any.UnpackTo(&fault)) {
    skipped.push_back({resource, kFaultFilter, absl::StrCat("typed_per_filter_config is a ", any.type_url())});
    return;
  }
  json plugin = json::object();
  auto below_one_percent = [&](const envoy::type::v3::FractionalPercent& p, const char* field) {
    if (p.numerator() == 0 || Percent(p) > 0) return false;
    skipped.push_back({resource, field, "a fraction below 1% has no APISIX equivalent (integer percent); left out"});
    return true;
  };
  if (fault.has_abort() && below_one_percent(fault.abort().percentage(), "fault.abort.percentage")) fault.clear_abort();
  if (fault.has_delay() && below_one_percent(fault.delay().percentage(), "fault.delay.percentage")) fault.clear_delay();
  if (fault.has_abort()) {
    if (fault.abort().error_type_case() == envoy::extensions::filters::http::fault::v3::FaultAbort::kHttpStatus) {
      plugin["abort"] = {{"http_status", fault.abort().http_status()},
                         {"percentage", Percent(fault.abort().percentage())}};
    } else {
      skipped.push_back({resource, "fault.abort", "only a fixed HTTP status can be injected (no gRPC or header-driven aborts)"});
    }
  }
  if (fault.has_delay()) {
    if (fault.delay().has_fixed_delay()) {
      const auto& d = fault.delay().fixed_delay();
      plugin["delay"] = {{"duration", static_cast<double>(d.seconds()) + static_cast<double>(d.nanos()) / 1e9},
                         {"percentage", Percent(fault.delay().percentage())}};
    } else {
      skipped.push_back({resource, "fault.delay", "only a fixed delay can be injected (no header-driven delays)"});
    }
  }
  if (fault.has_max_active_faults()) skipped.push_back({resource, "fault.max_active_faults", "no APISIX equivalent"});
  if (!plugin.empty()) out.plugins["fault-injection"] = std::move(plugin);
}

// The CORS policy types of the filter extension and of the legacy route fields share these fields.
template <typename Policy>
void TranslateCors(const Policy& policy, const std::string& resource, apisix::Route& out, Diagnostics& skipped) {
  std::vector<std::string> exact;
  json by_regex = json::array();
  for (const auto& m : policy.allow_origin_string_match()) {
    using envoy::type::matcher::v3::StringMatcher;
    switch (m.match_pattern_case()) {
      case StringMatcher::kExact: exact.push_back(m.exact()); break;
      case StringMatcher::kPrefix: by_regex.push_back("^" + RegexEscape(m.prefix())); break;
      case StringMatcher::kSuffix: by_regex.push_back(RegexEscape(m.suffix()) + "$"); break;
      case StringMatcher::kContains: by_regex.push_back(RegexEscape(m.contains())); break;
      case StringMatcher::kSafeRegex:
        if (IsUsableRegex(m.safe_regex().regex())) {
          by_regex.push_back("^(?:" + m.safe_regex().regex() + ")$");
        } else {
          skipped.push_back({resource, "cors.allow_origin_string_match",
                             absl::StrCat("origin regex \"", m.safe_regex().regex(), "\" does not compile; left out")});
        }
        break;
      default: break;
    }
  }
  json cors = json::object();
  const bool credentials = policy.has_allow_credentials() && policy.allow_credentials().value();
  if (!exact.empty()) cors["allow_origins"] = absl::StrJoin(exact, ",");
  if (!by_regex.empty()) cors["allow_origins_by_regex"] = std::move(by_regex);
  if (exact.empty() && cors.find("allow_origins_by_regex") == cors.end()) {
    skipped.push_back({resource, "cors.allow_origin_string_match", "no origin allowed; CORS left off"});
    return;
  }
  if (credentials && absl::StrContains(cors.value("allow_origins", ""), "*")) {
    skipped.push_back({resource, "cors", "APISIX refuses \"*\" origins with credentials; CORS left off"});
    return;
  }
  if (!policy.allow_methods().empty()) cors["allow_methods"] = policy.allow_methods();
  if (!policy.allow_headers().empty()) cors["allow_headers"] = policy.allow_headers();
  if (!policy.expose_headers().empty()) cors["expose_headers"] = policy.expose_headers();
  int64_t max_age = 0;
  if (!policy.max_age().empty() && absl::SimpleAtoi(policy.max_age(), &max_age)) cors["max_age"] = max_age;
  if (credentials) cors["allow_credential"] = true;
  out.plugins["cors"] = std::move(cors);
}

}  // namespace

int Percent(const envoy::type::v3::FractionalPercent& fraction) {
  double denominator = 100;
  if (fraction.denominator() == envoy::type::v3::FractionalPercent::TEN_THOUSAND) denominator = 10000;
  if (fraction.denominator() == envoy::type::v3::FractionalPercent::MILLION) denominator = 1000000;
  return static_cast<int>(std::lround(std::min(100.0, fraction.numerator() * 100.0 / denominator)));
}

// The legacy `cors` fields are deprecated but still sent (Istio 1.9 and older).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void TranslateFilterConfigs(const envoy::config::route::v3::Route& route,
                            const envoy::config::route::v3::VirtualHost& vhost, const std::string& resource,
                            apisix::Route& out, Diagnostics& skipped) {
  if (const auto* fault = FilterConfig(route, vhost, kFaultFilter)) TranslateFault(*fault, resource, out, skipped);
  if (const auto* any = FilterConfig(route, vhost, kCorsFilter)) {
    envoy::extensions::filters::http::cors::v3::CorsPolicy policy;
    if (any->UnpackTo(&policy)) {
      TranslateCors(policy, resource, out, skipped);
    } else {
      skipped.push_back({resource, kCorsFilter, absl::StrCat("typed_per_filter_config is a ", any->type_url())});
    }
  } else if (route.has_route() && route.route().has_cors()) {
    TranslateCors(route.route().cors(), resource, out, skipped);
  } else if (vhost.has_cors()) {
    TranslateCors(vhost.cors(), resource, out, skipped);
  }
}
#pragma GCC diagnostic pop

}  // namespace agent::translate
