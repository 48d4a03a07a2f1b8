// Every xDS file of the project's corpus (shared/xds-corpus: real Istio dumps, Envoy Gateway and
// Consul goldens) loads or is refused with a reason naming it, translates without a crash, and
// every emitted object passes the APISIX schema checks. Files of one scenario (same name before the
// first '.') are translated together, as an agent watching them would.
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "apisix/schema_check.h"
#include "translate/translator.h"
#include "xds/file_set.h"

namespace agent::translate {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::vector<fs::path>> Scenarios(const fs::path& root) {
  std::map<std::string, std::vector<fs::path>> scenarios;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    std::string file = entry.path().filename().string();
    std::string key = fs::relative(entry.path().parent_path(), root).string() + "/" + file.substr(0, file.find('.'));
    scenarios[key].push_back(entry.path());
  }
  return scenarios;
}

void CheckScenario(const std::string& name, const std::vector<fs::path>& files, size_t& objects) {
  SCOPED_TRACE(name);
  xds::FileSet set;
  for (const auto& path : files) {
    bool changed = false;
    absl::Status status = set.Load(path.string(), &changed);
    if (!status.ok()) {  // e.g. a raw config dump, which is not a DiscoveryResponse: refused, named
      EXPECT_NE(status.message().find(path.string()), absl::string_view::npos) << status;
    }
  }
  Translation t = Translate(set.Merge());
  for (const auto& route : t.routes) {
    auto errors = apisix::CheckRouteSchema(nlohmann::json::parse(apisix::EncodeJson(route)));
    EXPECT_TRUE(errors.empty()) << route.desc << ": " << errors.front();
    // Bundle mode enables exactly kTranslatedPlugins in APISIX: nothing else may be emitted.
    for (const auto& [plugin, conf] : route.plugins.items()) {
      EXPECT_NE(std::find_if(std::begin(apisix::kTranslatedPlugins), std::end(apisix::kTranslatedPlugins),
                             [&](const char* known) { return plugin == known; }),
                std::end(apisix::kTranslatedPlugins))
          << route.desc << " uses " << plugin << ", which bundle mode does not enable";
    }
    ++objects;
  }
  for (const auto& upstream : t.upstreams) {
    auto errors = apisix::CheckUpstreamSchema(nlohmann::json::parse(apisix::EncodeJson(upstream)));
    EXPECT_TRUE(errors.empty()) << upstream.desc << ": " << errors.front();
    ++objects;
  }
  for (const auto& s : t.skipped) {
    EXPECT_FALSE(s.resource.empty() || s.reason.empty()) << s.ToString();
  }
}

TEST(CorpusTest, EveryScenarioTranslatesToSchemaValidObjects) {
  fs::path corpus(AGENT_XDS_CORPUS_DIR);
  if (!fs::is_directory(corpus)) GTEST_SKIP() << "no corpus at " << corpus << " (set -DAGENT_XDS_CORPUS_DIR)";
  size_t objects = 0;
  auto scenarios = Scenarios(corpus);
  ASSERT_GT(scenarios.size(), 20u);
  for (const auto& [name, files] : scenarios) CheckScenario(name, files, objects);
  EXPECT_GT(objects, 100u);
}

TEST(CorpusTest, TheCheckedInCasesToo) {
  size_t objects = 0;
  for (const auto& [name, files] : Scenarios(fs::path(AGENT_TESTDATA_DIR) / "translate")) {
    CheckScenario(name, files, objects);
  }
  EXPECT_GT(objects, 50u);
}

TEST(SchemaCheckTest, CatchesWhatApisixWouldReject) {
  using nlohmann::json;
  EXPECT_FALSE(apisix::CheckRouteSchema(json{{"id", "a b"}, {"uris", {"/"}}, {"upstream_id", "u"}}).empty());
  EXPECT_FALSE(apisix::CheckRouteSchema(json{{"id", "r"}, {"uris", {"/"}}}).empty());  // nothing to route to
  EXPECT_FALSE(apisix::CheckRouteSchema(json{{"id", "r"}, {"uris", {"/"}}, {"upstream_id", "u"}, {"hosts", {"a.*"}}}).empty());
  EXPECT_FALSE(apisix::CheckUpstreamSchema(json{{"id", "u"}, {"nodes", json::array()}, {"timeout", {{"connect", 1}}}}).empty());
  EXPECT_FALSE(apisix::CheckUpstreamSchema(json{{"id", "u"}, {"nodes", json::array()}, {"checks", {{"passive", json::object()}}}}).empty());
  EXPECT_TRUE(apisix::CheckRouteSchema(json{{"id", "r"}, {"uris", {"/*"}}, {"upstream_id", "u"}, {"hosts", {"*.a.com"}}}).empty());
}

}  // namespace
}  // namespace agent::translate
