// The xDS file decoder and the translator behind it: the input is an xds-v3-file document (a
// DiscoveryResponse in JSON). Properties: no crash or unbounded recursion (issue 12's fourth
// probe); a refused document says why; whatever decodes translates, with and without listener
// binding, into routes and upstreams that pass APISIX's schema and encode as JSON; the incremental
// translator gives exactly the stateless output.
#include <string>

#include <nlohmann/json.hpp>

#include "apisix/resources.h"
#include "apisix/schema_check.h"
#include "fuzz_target.h"
#include "translate/translator.h"
#include "xds/discovery_json.h"

namespace {

void CheckTranslation(const agent::translate::Translation& t) {
  for (const auto& route : t.routes) {
    const std::string json = agent::apisix::EncodeJson(route);
    FuzzCheck(nlohmann::json::accept(json), "a route encodes as JSON");
    FuzzCheck(agent::apisix::CheckRouteSchema(nlohmann::json::parse(json)).empty(), "a route passes APISIX's schema");
  }
  for (const auto& upstream : t.upstreams) {
    const std::string json = agent::apisix::EncodeJson(upstream);
    FuzzCheck(nlohmann::json::accept(json), "an upstream encodes as JSON");
    FuzzCheck(agent::apisix::CheckUpstreamSchema(nlohmann::json::parse(json)).empty(),
              "an upstream passes APISIX's schema");
  }
  for (const auto& s : t.skipped) FuzzCheck(!s.resource.empty() && !s.reason.empty(), "a skip names what and why");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  agent::xds::DecodeReport report;
  auto snapshot = agent::xds::DecodeDiscoveryResponseJson(input, &report);
  if (!snapshot.ok()) {
    FuzzCheck(!snapshot.status().message().empty(), "a refused document says why");
    return 0;
  }
  agent::translate::Translation plain = agent::translate::Translate(*snapshot);
  CheckTranslation(plain);
  agent::translate::TranslateOptions bound;
  bound.original_dst_var = "original_dst";
  bound.bind_direction = true;
  CheckTranslation(agent::translate::Translate(*snapshot, bound));

  agent::translate::Translator incremental;
  incremental.Translate(*snapshot);
  agent::translate::Translation again = incremental.Translate(*snapshot);
  FuzzCheck(again.routes.size() == plain.routes.size() && again.upstreams.size() == plain.upstreams.size(),
            "the incremental translator gives the stateless output");
  for (size_t i = 0; i < plain.routes.size(); ++i) {
    FuzzCheck(agent::apisix::EncodeJson(again.routes[i]) == agent::apisix::EncodeJson(plain.routes[i]),
              "the incremental translator gives the stateless routes");
  }
  return 0;
}
