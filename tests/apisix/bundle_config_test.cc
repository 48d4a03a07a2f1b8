// Bundle mode's APISIX config file: both layouts, and never overwriting the user's file silently.
#include "apisix/bundle_config.h"
#include "apisix/resources.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

namespace agent::apisix {
namespace {

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

BundleConfig Example(VersionLine line) {
  BundleConfig c;
  c.line = line;
  c.etcd_host = "http://127.0.0.1:17739";
  c.etcd_prefix = "/apisix";
  return c;
}

TEST(BundleConfigTest, ThreeXPutsEtcdUnderDeployment) {
  const std::string yaml = RenderBundleConfig(Example(VersionLine::k3x));
  EXPECT_EQ(yaml.rfind(kRenderedMarker, 0), 0u);
  EXPECT_TRUE(Has(yaml, "apisix:\n  node_listen:\n    - 9080\n    - 9081\n"));
  EXPECT_TRUE(Has(yaml, "  enable_admin: false\n"));
  EXPECT_TRUE(Has(yaml, "deployment:\n  role: traditional\n  role_traditional:\n    config_provider: etcd\n"
                        "  etcd:\n    host:\n      - \"http://127.0.0.1:17739\"\n    prefix: \"/apisix\"\n"));
  EXPECT_FALSE(Has(yaml, "\netcd:"));  // no 2.x top-level block
  EXPECT_FALSE(Has(yaml, "daemon off"));  // the agent starts nginx with -g 'daemon off;'
  EXPECT_FALSE(Has(yaml, "main_configuration_snippet"));
  EXPECT_FALSE(Has(yaml, "  user:"));  // only when a worker user is given
  EXPECT_TRUE(Has(yaml, "  http:\n    access_log: \"/dev/stdout\"\n"));
  for (const char* plugin : kTranslatedPlugins) EXPECT_TRUE(Has(yaml, std::string("  - ") + plugin + "\n")) << plugin;
}

TEST(BundleConfigTest, TwoXUsesTheTopLevelEtcdBlock) {
  BundleConfig c = Example(VersionLine::k2x);
  c.etcd_user = "root";
  c.etcd_password = "p\"w";
  const std::string yaml = RenderBundleConfig(c);
  EXPECT_TRUE(Has(yaml, "\netcd:\n  host:\n    - \"http://127.0.0.1:17739\"\n  prefix: \"/apisix\"\n"));
  EXPECT_TRUE(Has(yaml, "  user: \"root\"\n  password: \"p\\\"w\"\n"));
  EXPECT_FALSE(Has(yaml, "deployment:"));
}

TEST(BundleConfigTest, TheModuleIsLoadedAndThePassThroughLocationRendered) {
  BundleConfig c = Example(VersionLine::k3x);
  EXPECT_FALSE(Has(RenderBundleConfig(c), "load_module"));
  EXPECT_FALSE(Has(RenderBundleConfig(c), "@apisix_mesh_original_dst"));
  c.original_dst_var = "original_dst";
  c.original_dst_module = "/usr/local/lib/apisix-mesh-agent/ngx_http_original_dst_module.so";
  const std::string yaml = RenderBundleConfig(c);
  EXPECT_TRUE(Has(yaml, "  node_listen:\n    - 9080\n    - 9081\n"));  // both ports: APISIX routes both
  EXPECT_TRUE(Has(yaml, "  main_configuration_snippet: |\n"
                        "    load_module /usr/local/lib/apisix-mesh-agent/ngx_http_original_dst_module.so;\n"));
  EXPECT_TRUE(Has(yaml, "  http_server_configuration_snippet: |\n    location @apisix_mesh_original_dst {\n"
                        "      if ($original_dst = \"\") {\n        return 502;\n      }\n"));
  EXPECT_TRUE(Has(yaml, "      proxy_pass http://$original_dst;\n"));
}

TEST(BundleConfigTest, AnOperatorsOwnVariableNeedsNoModule) {
  BundleConfig c = Example(VersionLine::k3x);
  c.original_dst_var = "connection_original_dst";
  const std::string yaml = RenderBundleConfig(c);
  EXPECT_FALSE(Has(yaml, "load_module"));
  EXPECT_TRUE(Has(yaml, "      proxy_pass http://$connection_original_dst;\n"));
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(BundleConfigTest, TheUsersFileIsMovedAsideAndOursIsReplaced) {
  const std::string dir = ::testing::TempDir() + "/bundle_config_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/config.yaml";
  std::ofstream(path) << "apisix:\n  node_listen: 1984\n";
  auto backup = InstallBundleConfig(path, RenderBundleConfig(Example(VersionLine::k3x)));
  ASSERT_TRUE(backup.ok()) << backup.status();
  ASSERT_TRUE(backup->has_value());
  EXPECT_EQ(Read(**backup), "apisix:\n  node_listen: 1984\n");
  EXPECT_EQ(Read(path).rfind(kRenderedMarker, 0), 0u);

  auto again = InstallBundleConfig(path, RenderBundleConfig(Example(VersionLine::k2x)));  // ours: replaced in place
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_TRUE(Has(Read(path), "(APISIX 2.x)"));
  std::filesystem::remove_all(dir);
}

TEST(BundleConfigTest, WorkerUserAndAccessLogAreRendered) {
  BundleConfig c = Example(VersionLine::k3x);
  c.worker_user = "nobody nogroup";
  c.access_log = "off";
  const std::string yaml = RenderBundleConfig(c);
  EXPECT_TRUE(Has(yaml, "nginx_config:\n  error_log: /dev/stderr\n  user: \"nobody nogroup\"\n"));
  EXPECT_TRUE(Has(yaml, "  http:\n    enable_access_log: false\n"));
}

// APISIX's init rewrites config.yaml (a generated admin key; comments dropped): the rewritten file
// is still the agent's at the next start — replaced in place, no backup piling up.
TEST(BundleConfigTest, OwnershipSurvivesApisixRewritingTheFile) {
  const std::string dir = ::testing::TempDir() + "/bundle_owned_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/config.yaml";
  std::ofstream(path) << "apisix:\n  node_listen: 1984\n";  // the operator's
  for (int start = 0; start < 3; ++start) {
    auto moved = InstallBundleConfig(path, RenderBundleConfig(Example(VersionLine::k3x)));
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_EQ(moved->has_value(), start == 0) << start;
    if (start == 0) {
      EXPECT_EQ(**moved, OperatorConfigPath(path));
    }
    std::ofstream(path, std::ios::app) << "deployment:\n  admin:\n    admin_key: [{key: generated" << start << "}]\n";
    std::string text = Read(path);
    std::ofstream(path, std::ios::trunc) << text.substr(text.find('\n') + 1);  // the marker is gone
    EXPECT_FALSE(IsOwnedConfig(path));
    RecordOwned(path);  // what the agent does after init
    EXPECT_TRUE(IsOwnedConfig(path));
  }
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files += entry.path().filename() != ".apisix-mesh-agent-owned";
  EXPECT_EQ(files, 2);  // config.yaml and config.yaml.operator: no backups
  EXPECT_EQ(Read(OperatorConfigPath(path)), "apisix:\n  node_listen: 1984\n");
  std::filesystem::remove_all(dir);
}

TEST(BundleConfigTest, AnUnwritableDirectoryIsAClearError) {
  auto result = InstallBundleConfig("/nonexistent/conf/config.yaml", "x");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(Has(std::string(result.status().message()), "/nonexistent/conf/config.yaml"));
}

}  // namespace
}  // namespace agent::apisix

namespace agent::apisix {
namespace {

// The mesh front: the capture ports become the front's stream servers, APISIX's HTTP server
// listens on loopback (PROXY-protocol ports the front sends HTTP to), its stream proxy on the
// loopback port the front sends TCP to; the document stays YAML APISIX reads.
TEST(BundleConfigTest, TheMeshFrontTakesTheCapturePorts) {
  BundleConfig c = Example(VersionLine::k3x);
  c.original_dst_var = "original_dst";
  c.original_dst_module = "/m/ngx_http_original_dst_module.so";
  BundleConfig::MeshFront front;
  front.stream_module = "/m/ngx_stream_original_dst_module.so";
  front.dir = "/usr/local/apisix/mesh-front";
  front.table = "/usr/local/apisix/mesh-front/table";
  front.detect_timeout_ms = 250;
  c.mesh_front = front;
  const std::string yaml = RenderBundleConfig(c);
  EXPECT_TRUE(Has(yaml, "apisix:\n  node_listen:\n    - ip: 127.0.0.1\n      port: 15082\n"));
  EXPECT_FALSE(Has(yaml, "    - 9080\n"));  // nginx's stream front listens there, not APISIX's HTTP server
  EXPECT_TRUE(Has(yaml, "  proxy_mode: http&stream\n  stream_proxy:\n    tcp:\n      - \"127.0.0.1:15090\"\n"));
  EXPECT_TRUE(Has(yaml, "  proxy_protocol:\n    enable_tcp_pp: true\n"));
  EXPECT_TRUE(Has(yaml, "    load_module /m/ngx_http_original_dst_module.so;\n"
                        "    load_module /m/ngx_stream_original_dst_module.so;\n"));
  // The client's address from the front's PROXY header, trusted on its unix sockets only.
  EXPECT_TRUE(Has(yaml, "    real_ip_header: proxy_protocol\n    real_ip_from:\n      - \"unix:\"\n"));
  EXPECT_TRUE(Has(yaml, "    mesh_front_table /usr/local/apisix/mesh-front/table;\n"));
  EXPECT_TRUE(Has(yaml, "    mesh_front_detect_timeout 250ms;\n"));
  EXPECT_TRUE(Has(yaml, "      listen 9080;\n      listen [::]:9080;\n      mesh_front outbound;\n"));
  EXPECT_TRUE(Has(yaml, "      listen 9081;\n      listen [::]:9081;\n      mesh_front inbound;\n"));
  EXPECT_TRUE(Has(yaml, "      http unix:/usr/local/apisix/mesh-front/http-outbound.sock; tcp 127.0.0.1:15090; "
                        "passthrough unix:/usr/local/apisix/mesh-front/passthrough.sock;\n"));
  EXPECT_TRUE(Has(yaml, "      listen unix:/usr/local/apisix/mesh-front/passthrough.sock proxy_protocol;\n"));
  EXPECT_TRUE(Has(yaml, "  http_server_configuration_snippet: |\n"
                        "    listen unix:/usr/local/apisix/mesh-front/http-outbound.sock proxy_protocol;\n"
                        "    listen unix:/usr/local/apisix/mesh-front/http-inbound.sock proxy_protocol;\n"
                        "    location @apisix_mesh_original_dst {\n"));
  // 2.x has no proxy_mode: stream_proxy.only false keeps HTTP on.
  c.line = VersionLine::k2x;
  const std::string two = RenderBundleConfig(c);
  EXPECT_TRUE(Has(two, "apisix:\n  node_listen:\n    - 15082\n  stream_proxy:\n    only: false\n"));
  EXPECT_FALSE(Has(two, "proxy_mode"));
}

}  // namespace
}  // namespace agent::apisix
