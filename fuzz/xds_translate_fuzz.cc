// The xDS file decoder and the translator behind it: the input is an xds-v3-file document (a
// DiscoveryResponse in JSON). Properties: no crash or unbounded recursion (issue 12's fourth
// probe); a refused document says why; whatever decodes translates, with and without listener
// binding, into routes and upstreams that pass APISIX's schema and encode as JSON; the incremental
// translator gives exactly the stateless output.
#include <algorithm>
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
  for (const auto& route : t.stream_routes) {
    const std::string json = agent::apisix::EncodeJson(route);
    FuzzCheck(agent::apisix::CheckStreamRouteSchema(nlohmann::json::parse(json)).empty(),
              "a stream route passes APISIX's schema");
  }
  // The front's table: one DIRECTION DESTINATION ACTION line per destination (nginx refuses the
  // whole table for one bad line).
  for (size_t start = 0; start < t.front_table.size();) {
    const size_t end = t.front_table.find('\n', start);
    FuzzCheck(end != std::string::npos, "the front's table ends its lines");
    const std::string line = t.front_table.substr(start, end - start);
    FuzzCheck(line[0] == '#' || std::count(line.begin(), line.end(), ' ') == 2, "a table line has three words");
    start = end + 1;
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
  bound.mesh_front = true;
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
