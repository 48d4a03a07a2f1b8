// The admin endpoint's pure parts: routing, the loopback rule, the log level, the config dump's
// filters, order and redaction.
#include "admin/admin_server.h"

#include <gtest/gtest.h>

#include "common/logging.h"
#include "translate/from_json.h"

namespace agent::admin {
namespace {

health::HttpRequest Get(std::string target, bool loopback = true) {
  health::HttpRequest r;
  r.method = "GET";
  r.target = std::move(target);
  r.from_loopback = loopback;
  return r;
}

TEST(AdminServerTest, AnswersLoopbackOnlyUnlessAllowedAndRoutesItsEndpoints) {
  metrics::Registry registry;
  registry.AddCounter("x_total", "X.").With({}).Inc();
  AdminSources sources;
  sources.metrics = &registry;
  sources.syncz = [] { return nlohmann::json{{"ok", true}}; };
  sources.config_dump = [](const DumpFilter& f) { return nlohmann::json{{"resource", f.resource}, {"name", f.name}}; };
  AdminServer server(sources, /*allow_remote=*/false);
  EXPECT_EQ(server.Handle(Get("/syncz", /*loopback=*/false)).status, 403);
  EXPECT_EQ(AdminServer(sources, true).Handle(Get("/syncz", false)).status, 200);
  EXPECT_NE(server.Handle(Get("/stats/prometheus")).body.find("x_total 1\n"), std::string::npos);
  EXPECT_EQ(server.Handle(Get("/metrics")).body, server.Handle(Get("/stats/prometheus")).body);
  EXPECT_EQ(nlohmann::json::parse(server.Handle(Get("/config_dump?resource=routes&name=abc")).body),
            (nlohmann::json{{"resource", "routes"}, {"name", "abc"}}));
  EXPECT_EQ(server.Handle(Get("/config_dump?resource=secrets")).status, 400);
  EXPECT_EQ(server.Handle(Get("/nope")).status, 404);

  health::HttpRequest post = Get("/logging?level=debug");
  post.method = "POST";
  const log::Level before = log::CurrentLevel();
  EXPECT_EQ(server.Handle(post).status, 200);
  EXPECT_EQ(log::CurrentLevel(), log::Level::kDebug);
  post.target = "/logging?level=verbose";
  EXPECT_EQ(server.Handle(post).status, 400);
  EXPECT_EQ(log::CurrentLevel(), log::Level::kDebug);  // a bad request changes nothing
  log::SetLevel(before);
}

TEST(ConfigDumpTest, FiltersSortsAndRedacts) {
  xds::XdsDump dump;
  using translate::testing::FromJson;
  dump.snapshot.clusters["b"] = FromJson<envoy::config::cluster::v3::Cluster>(R"({"name":"b"})");
  dump.snapshot.clusters["a"] = FromJson<envoy::config::cluster::v3::Cluster>(R"({"name":"a"})");
  dump.origins[xds::kClusterType]["a"] = {"v7", "ads istiod:15010", std::chrono::system_clock::time_point(std::chrono::seconds(1))};
  const std::vector<ServedObject> served = {{"/apisix/upstreams/2", 9, R"({"id":"2"})", "xds cluster b"},
                                            {"/apisix/upstreams/1", 8, R"({"id":"1"})", "xds cluster a"},
                                            {"/apisix/routes/", 1, "init_dir", ""},
                                            {"/apisix/routes/r1", 7, R"({"id":"r1","desc":"xds route_configuration rc"})", ""},
                                            {"/apisix/routes/r2", 7, R"({"id":"r2","desc":"cut"})", "xds route_configuration long"}};
  nlohmann::json all = BuildConfigDump(dump, served, {"z finding", "a finding"}, 9, {});
  EXPECT_EQ(all["xds"]["clusters"][0]["name"], "a");  // sorted by name, whatever the arrival order
  EXPECT_EQ(all["xds"]["clusters"][0]["version"], "v7");
  EXPECT_EQ(all["xds"]["clusters"][0]["arrived"], "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(all["apisix"]["upstreams"][0]["key"], "/apisix/upstreams/1");
  ASSERT_EQ(all["apisix"]["routes"].size(), 2u);  // the directory placeholder is not an object
  EXPECT_EQ(all["apisix"]["routes"][0]["source"], "xds route_configuration rc");  // none recorded: the desc
  EXPECT_EQ(all["apisix"]["routes"][1]["source"], "xds route_configuration long");  // recorded: wins
  nlohmann::json by_desc = BuildConfigDump(dump, served, {}, 9, {"routes", "configuration rc"});
  ASSERT_EQ(by_desc["apisix"]["routes"].size(), 1u);  // the name filter reads the desc as the source
  EXPECT_EQ(by_desc["apisix"]["routes"][0]["key"], "/apisix/routes/r1");
  EXPECT_EQ(all["skipped"][0], "a finding");
  nlohmann::json some = BuildConfigDump(dump, served, {}, 9, {"upstreams", "cluster b"});
  EXPECT_FALSE(some.contains("xds"));
  ASSERT_EQ(some["apisix"]["upstreams"].size(), 1u);
  EXPECT_EQ(some["apisix"]["upstreams"][0]["mod_revision"], 9);

  nlohmann::json secret = {{"tls", {{"private_key", {{"inline_string", "KEY"}}}, {"certificate_chain", "CERT"}}},
                           {"list", {{{"password", "p"}}}}};
  Redact(secret);
  EXPECT_EQ(secret["tls"]["private_key"], "[redacted]");
  EXPECT_EQ(secret["tls"]["certificate_chain"], "CERT");
  EXPECT_EQ(secret["list"][0]["password"], "[redacted]");
}

TEST(HttpRequestTest, QueryParameters) {
  health::HttpRequest r;
  r.target = "/config_dump?resource=routes&name=&x";
  EXPECT_EQ(r.Path(), "/config_dump");
  EXPECT_EQ(r.Query("resource"), "routes");
  EXPECT_EQ(r.Query("name"), "");
  EXPECT_EQ(r.Query("missing"), "");
}

}  // namespace
}  // namespace agent::admin
