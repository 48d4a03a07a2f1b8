// Every xDS file of the project's corpus (shared/xds-corpus: real Istio dumps, Envoy Gateway and
// Consul goldens) loads or is refused with a reason naming it, translates without a crash, and
// every emitted object passes the APISIX schema checks. Files of one scenario (same name before the
// first '.') are translated together, as an agent watching them would.
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apisix/schema_check.h"
#include "translate/listener_translator.h"
#include "translate/tcp_translator.h"
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

// The vars of a route that bind it to listeners (the original destination and the capture port).
std::vector<apisix::RouteVar> Binding(const apisix::Route& route) {
  std::vector<apisix::RouteVar> out;
  for (const auto& v : route.vars) {
    if (v.var == "original_dst" || v.var == "server_port") out.push_back(v);
  }
  return out;
}

bool Matches(const std::vector<apisix::RouteVar>& binding, const std::string& server_port, const std::string& dst) {
  for (const auto& v : binding) {
    const std::string& value = v.var == "server_port" ? server_port : dst;
    bool hit = v.op == "==" ? value == v.value : std::regex_search(value, std::regex(v.value));
    if (hit == v.negate) return false;
  }
  return true;
}

// Listener binding as Envoy dispatches: a connection's original destination reaches the routes of
// at most one listener (filter chain). Probed at every address and port the bindings name, plus
// addresses and ports nobody names, over IPv4 and IPv6, on both capture ports.
void CheckBindingIsExclusive(const Translation& t) {
  std::set<std::string> addresses = {"10.1.2.3", "[fd00::1]"};
  std::set<std::string> ports = {"1", "8080", "65000"};
  // Literals as they appear in a var: "10.0.0.5:80" (==) or "10\\.0\\.0\\.5:80" (a regex).
  const std::regex v4(R"(([0-9]+)\\?\.([0-9]+)\\?\.([0-9]+)\\?\.([0-9]+))"), v6(R"(\\?\[([0-9a-f:]+)\\?\])"),
      port(R"(:([0-9]+))");
  for (const auto& route : t.routes) {
    for (const auto& v : Binding(route)) {
      if (v.var != "original_dst") continue;
      std::smatch m;
      for (std::string text = v.value; std::regex_search(text, m, v4); text = m.suffix()) {
        addresses.insert(absl::StrCat(m[1].str(), ".", m[2].str(), ".", m[3].str(), ".", m[4].str()));
      }
      for (std::string text = v.value; std::regex_search(text, m, v6); text = m.suffix()) {
        addresses.insert(absl::StrCat("[", m[1].str(), "]"));
      }
      for (std::string text = v.value; std::regex_search(text, m, port); text = m.suffix()) ports.insert(m[1]);
    }
  }
  for (const std::string server_port : {"9080", "9081"}) {
    for (const auto& address : addresses) {
      for (const auto& p : ports) {
        const std::string dst = absl::StrCat(address, ":", p);
        std::set<std::string> owners;  // distinct bindings among the routes this connection reaches
        for (const auto& route : t.routes) {
          auto binding = Binding(route);
          if (binding.empty() || !Matches(binding, server_port, dst)) continue;
          std::string key;
          for (const auto& v : binding) key += absl::StrCat(v.var, v.negate ? " !" : " ", v.op, " ", v.value, "; ");
          owners.insert(key);
        }
        EXPECT_LE(owners.size(), 1u) << "a connection on " << server_port << " for " << dst
                                     << " reaches the routes of several listeners: " << absl::StrJoin(owners, " | ");
      }
    }
  }
}

// TCP: every tcp_proxy chain has its destination in the front's table (none is left out as "only
// HTTP"), stream routes are schema-valid, point at upstreams that exist, and never share a
// server_addr:server_port (APISIX's stream router has no priorities: the first match wins).
void CheckTcp(const xds::ResourceSnapshot& snapshot, const Translation& t) {
  std::set<std::string> lines;
  std::istringstream table(t.front_table);
  for (std::string line; std::getline(table, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string direction, destination, action, extra;
    words >> direction >> destination >> action >> extra;
    EXPECT_TRUE((direction == "outbound" || direction == "inbound") && !destination.empty() && !action.empty() &&
                extra.empty())
        << line;
    EXPECT_TRUE(lines.insert(direction + " " + destination).second) << "twice in the table: " << line;
  }
  for (const auto& [name, listener] : snapshot.listeners) {
    Diagnostics ignored;
    for (const TcpChain& chain : ExtractListenerRoutes(listener.Unpack(), ignored).tcp_chains) {
      if (chain.server_names) continue;  // TLS routing by SNI: reported, not translated
      const std::string key = absl::StrCat(chain.where.inbound ? "inbound " : "outbound ", FrontKey(chain.where));
      EXPECT_TRUE(lines.count(key)) << "Listener " << name << ", chain " << chain.chain << ": " << key
                                    << " is not in the front's table";
    }
  }
  for (const auto& s : t.skipped) {
    EXPECT_EQ(s.reason.find("only HTTP connection managers are translated"), std::string::npos) << s.ToString();
  }
  std::set<std::string> upstream_ids, served;
  for (const auto& u : t.upstreams) upstream_ids.insert(u.id);
  for (const auto& route : t.stream_routes) {
    auto json = nlohmann::json::parse(apisix::EncodeJson(route));
    auto errors = apisix::CheckStreamRouteSchema(json);
    EXPECT_TRUE(errors.empty()) << json.dump() << ": " << errors.front();
    EXPECT_TRUE(upstream_ids.count(route.upstream_id)) << json.dump() << ": no such upstream";
    EXPECT_TRUE(served.insert(absl::StrCat(route.server_addr, " ", route.server_port)).second)
        << json.dump() << ": another stream route matches the same connections";
  }
}

void CheckScenario(const std::string& name, const std::vector<fs::path>& files, size_t& objects, bool original_dst) {
  SCOPED_TRACE(name + (original_dst ? " (original destinations)" : ""));
  xds::FileSet set;
  for (const auto& path : files) {
    bool changed = false;
    absl::Status status = set.Load(path.string(), &changed);
    if (!status.ok()) {  // e.g. a raw config dump, which is not a DiscoveryResponse: refused, named
      EXPECT_NE(status.message().find(path.string()), absl::string_view::npos) << status;
    }
  }
  TranslateOptions options;
  if (original_dst) {
    options.original_dst_var = "original_dst";
    options.bind_direction = true;
    options.mesh_front = true;
  }
  const xds::ResourceSnapshot snapshot = set.snapshot();
  Translation t = Translate(snapshot, options);
  if (original_dst) {
    CheckBindingIsExclusive(t);
    CheckTcp(snapshot, t);
  }
  for (const auto& route : t.routes) {
    if (!original_dst) {
      for (const auto& [plugin, conf] : route.plugins.items()) {
        EXPECT_NE(plugin, "serverless-pre-function") << route.desc << ": a pass-through without original destinations";
      }
    }
    auto errors = apisix::CheckRouteSchema(nlohmann::json::parse(apisix::EncodeJson(route)));
    EXPECT_TRUE(errors.empty()) << route.desc << ": " << errors.front();
    // Bundle mode enables exactly kTranslatedPlugins in APISIX: nothing else may be emitted.
    for (const auto& item : route.plugins.items()) {
      const std::string& plugin = item.key();
      EXPECT_NE(std::find_if(std::begin(apisix::kTranslatedPlugins), std::end(apisix::kTranslatedPlugins),
                             [&plugin](const char* known) { return plugin == known; }),
                std::end(apisix::kTranslatedPlugins))
          << route.desc << " uses " << plugin << ", which bundle mode does not enable";
    }
    ++objects;
  }
  for (const auto& upstream : t.upstreams) {
    for (const auto& node : upstream.nodes) {  // APISIX's capture ports on loopback: a loop
      EXPECT_FALSE(node.host.rfind("127.", 0) == 0 && (node.port == 9080 || node.port == 9081))
          << upstream.desc << " points at " << node.host << ":" << node.port;
    }
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
  for (const auto& [name, files] : scenarios) {
    CheckScenario(name, files, objects, false);
    CheckScenario(name, files, objects, true);
  }
  EXPECT_GT(objects, 100u);
}

TEST(CorpusTest, TheCheckedInCasesToo) {
  size_t objects = 0;
  for (const auto& [name, files] : Scenarios(fs::path(AGENT_TESTDATA_DIR) / "translate")) {
    CheckScenario(name, files, objects, false);
    CheckScenario(name, files, objects, true);
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
  // Stream routes: nginx's text of the address (APISIX compares strings), a port, an upstream.
  EXPECT_TRUE(apisix::CheckStreamRouteSchema(json{{"id", "s"}, {"server_addr", "fd00::7"}, {"server_port", 80},
                                                  {"upstream_id", "u"}}).empty());
  EXPECT_FALSE(apisix::CheckStreamRouteSchema(json{{"id", "s"}, {"server_addr", "fd00:0::7"}, {"server_port", 80},
                                                   {"upstream_id", "u"}}).empty());
  EXPECT_FALSE(apisix::CheckStreamRouteSchema(json{{"id", "s"}, {"server_addr", "10.0.0.1"}, {"server_port", 0},
                                                   {"upstream_id", "u"}}).empty());
  EXPECT_FALSE(apisix::CheckStreamRouteSchema(json{{"id", "s"}, {"server_port", 80}}).empty());
  EXPECT_FALSE(apisix::CheckStreamRouteSchema(json{{"id", "s"}, {"upstream_id", "u"}, {"name", "x"}}).empty());
}

}  // namespace
}  // namespace agent::translate
