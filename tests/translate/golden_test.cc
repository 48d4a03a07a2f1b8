// Translation goldens: every case folder's input/*.json (real xDS from the corpus) is translated and
// compared, as JSON, with its expected.json (no original destinations: stock nginx) and its
// expected.original-dst.json (the original-destination modules: listener binding, pass-through, and
// the mesh front's stream routes and table).
// AGENT_UPDATE_GOLDEN=1 rewrites the goldens.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "apisix/resources.h"
#include "nlohmann/json.hpp"
#include "translate/translator.h"
#include "xds/file_set.h"

namespace agent::translate {
namespace {

namespace fs = std::filesystem;

struct GoldenCase {
  std::string name;
  fs::path input_dir;
  fs::path expected;
  bool original_dst = false;
};

std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases;
  fs::path root = fs::path(AGENT_TESTDATA_DIR) / "translate";
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) cases.push_back({entry.path().filename().string(), entry.path() / "input",
                                               entry.path() / "expected.json"});
  }
  cases.push_back({"examples", fs::path(AGENT_EXAMPLES_DIR) / "xds", root / "examples.expected.json"});
  const size_t plain = cases.size();
  for (size_t i = 0; i < plain; ++i) {
    GoldenCase bound = cases[i];
    bound.name += "-original-dst";
    bound.expected.replace_filename(bound.expected.stem().string() + ".original-dst.json");
    bound.original_dst = true;
    cases.push_back(std::move(bound));
  }
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

nlohmann::json TranslationAsJson(const Translation& t) {
  nlohmann::json out;
  out["routes"] = nlohmann::json::array();
  for (const auto& r : t.routes) out["routes"].push_back(nlohmann::json::parse(apisix::EncodeJson(r)));
  out["upstreams"] = nlohmann::json::array();
  for (const auto& u : t.upstreams) out["upstreams"].push_back(nlohmann::json::parse(apisix::EncodeJson(u)));
  if (!t.stream_routes.empty()) {
    out["stream_routes"] = nlohmann::json::array();
    for (const auto& r : t.stream_routes) out["stream_routes"].push_back(nlohmann::json::parse(apisix::EncodeJson(r)));
  }
  if (!t.front_table.empty()) {
    out["front_table"] = nlohmann::json::array();
    std::istringstream lines(t.front_table);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] != '#') out["front_table"].push_back(line);
    }
  }
  out["skipped"] = nlohmann::json::array();
  for (const auto& s : t.skipped) out["skipped"].push_back(s.ToString());
  return out;
}

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

class TranslationGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(TranslationGoldenTest, MatchesExpected) {
  const GoldenCase& c = GetParam();
  xds::FileSet files;
  std::vector<fs::path> inputs;
  for (const auto& entry : fs::directory_iterator(c.input_dir)) inputs.push_back(entry.path());
  std::sort(inputs.begin(), inputs.end());
  for (const auto& path : inputs) {
    bool changed = false;
    ASSERT_TRUE(files.Load(path.string(), &changed).ok()) << path;
  }
  TranslateOptions options;
  if (c.original_dst) {
    options.original_dst_var = "original_dst";
    options.bind_direction = true;
    options.mesh_front = true;  // TCP: stream routes and the front's table
  }
  nlohmann::json actual = TranslationAsJson(Translate(files.snapshot(), options));
  // Same input, same bytes: translation is deterministic.
  ASSERT_EQ(actual, TranslationAsJson(Translate(files.snapshot(), options)));

  if (std::getenv("AGENT_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(c.expected) << actual.dump(2) << "\n";
    GTEST_SKIP() << "golden rewritten: " << c.expected;
  }
  std::ifstream in(c.expected);
  ASSERT_TRUE(in) << "missing golden " << c.expected << " (run with AGENT_UPDATE_GOLDEN=1)";
  nlohmann::json expected = nlohmann::json::parse(in);
  EXPECT_EQ(actual, expected) << "diff (RFC 6902, expected -> actual): "
                              << nlohmann::json::diff(expected, actual).dump(2);
}

INSTANTIATE_TEST_SUITE_P(Corpus, TranslationGoldenTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace_if(name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
                           return name;
                         });

}  // namespace
}  // namespace agent::translate
