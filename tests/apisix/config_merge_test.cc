// Bundle mode's layered config: the operator's APISIX settings under the agent's keys.
#include "apisix/config_merge.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "apisix/bundle_config.h"

namespace agent::apisix {
namespace {

std::string Required() {
  BundleConfig c;
  c.etcd_host = "http://127.0.0.1:17739";
  c.worker_user = "nobody nogroup";
  c.original_dst_module = "/lib/ngx_http_original_dst_module.so";
  c.original_dst_var = "original_dst";
  return RenderBundleConfig(c);
}

TEST(ConfigMergeTest, WithoutABaseTheAgentsKeysAreTheFile) {
  std::vector<std::string> conflicts;
  auto merged = MergeApisixConfig(Required(), "", "# header\n", &conflicts);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->rfind("# header\n", 0), 0u);
  EXPECT_TRUE(conflicts.empty());
  YAML::Node a = YAML::Load(*merged), b = YAML::Load(Required());
  EXPECT_EQ(YAML::Dump(a), YAML::Dump(b));  // the same document, whatever the layout
  EXPECT_EQ(a["deployment"]["etcd"]["host"][0].as<std::string>(), "http://127.0.0.1:17739");
  EXPECT_EQ(a["nginx_config"]["user"].as<std::string>(), "nobody nogroup");
}

TEST(ConfigMergeTest, OperatorSettingsStayPluginsUniteSnippetsJoinConflictsAreNamed) {
  const std::string base = R"(apisix:
  node_listen: [1984]
  extra_lua_path: "/opt/lua/?.lua"
  enable_admin: true
nginx_config:
  worker_processes: 2
  user: root
  main_configuration_snippet: |
    env MY_VAR;
  http:
    lua_shared_dict:
      my-cache: 10m
plugins:
  - prometheus
  - traffic-split
  - my-plugin
plugin_attr:
  prometheus:
    export_addr: {ip: 127.0.0.1, port: 9091}
etcd_password_like: "1234"
)";
  std::vector<std::string> conflicts;
  auto merged = MergeApisixConfig(Required(), base, "", &conflicts);
  ASSERT_TRUE(merged.ok()) << merged.status();
  YAML::Node m = YAML::Load(*merged);
  EXPECT_EQ(m["apisix"]["extra_lua_path"].as<std::string>(), "/opt/lua/?.lua");
  EXPECT_EQ(m["apisix"]["node_listen"][0].as<int>(), 9080);
  EXPECT_FALSE(m["apisix"]["enable_admin"].as<bool>());
  EXPECT_EQ(m["nginx_config"]["worker_processes"].as<int>(), 2);
  EXPECT_EQ(m["nginx_config"]["user"].as<std::string>(), "nobody nogroup");
  EXPECT_EQ(m["nginx_config"]["http"]["lua_shared_dict"]["my-cache"].as<std::string>(), "10m");
  EXPECT_EQ(m["nginx_config"]["http"]["access_log"].as<std::string>(), "/dev/stdout");
  EXPECT_EQ(m["nginx_config"]["main_configuration_snippet"].as<std::string>(),
            "env MY_VAR;\nload_module /lib/ngx_http_original_dst_module.so;\n");
  EXPECT_TRUE(m["nginx_config"]["http_server_configuration_snippet"]);
  std::vector<std::string> plugins = m["plugins"].as<std::vector<std::string>>();
  for (const char* plugin : kTranslatedPlugins) {
    EXPECT_NE(std::find(plugins.begin(), plugins.end(), plugin), plugins.end()) << plugin;
  }
  EXPECT_EQ(std::count(plugins.begin(), plugins.end(), "traffic-split"), 1);
  EXPECT_NE(std::find(plugins.begin(), plugins.end(), "prometheus"), plugins.end());
  EXPECT_NE(std::find(plugins.begin(), plugins.end(), "my-plugin"), plugins.end());
  EXPECT_EQ(m["plugin_attr"]["prometheus"]["export_addr"]["port"].as<int>(), 9091);
  EXPECT_EQ(m["etcd_password_like"].Tag(), "!");  // a quoted scalar stays a string
  ASSERT_EQ(conflicts.size(), 3u);
  EXPECT_EQ(conflicts[0], "apisix.node_listen: the operator's [1984] is replaced by [9080, 9081], which --apisix-port "
                          "and --apisix-inbound-capture-port sets");
  EXPECT_NE(conflicts[1].find("apisix.enable_admin"), std::string::npos);
  EXPECT_NE(conflicts[2].find("nginx_config.user: the operator's root is replaced by nobody nogroup, which "
                              "--apisix-user sets"),
            std::string::npos);
}

TEST(ConfigMergeTest, ABaseThatIsNotAMappingIsRefused) {
  std::vector<std::string> conflicts;
  EXPECT_FALSE(MergeApisixConfig(Required(), "- a\n- b\n", "", &conflicts).ok());
  auto broken = MergeApisixConfig(Required(), "apisix: [unclosed\n", "", &conflicts);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("not YAML"), absl::string_view::npos);
}

}  // namespace
}  // namespace agent::apisix
