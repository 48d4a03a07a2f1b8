#include "config/sidecar_config.h"
#include "config/original_dst_module.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace agent::config {
namespace {

SidecarConfig Valid() {
  SidecarConfig c;
  c.xds_watch_files = {AGENT_EXAMPLES_DIR "/xds"};
  return c;
}

std::string ErrorOf(SidecarConfig c) { return std::string(Validate(c).message()); }

TEST(SidecarConfigTest, DefaultsMatchTheOriginalAgent) {
  SidecarConfig c;
  EXPECT_EQ(c.provisioner, "xds-v3-file");
  EXPECT_EQ(c.grpc_listen, "127.0.0.1:2379");
  EXPECT_EQ(c.etcd_key_prefix, "/apisix");
  EXPECT_EQ(c.run_mode, "standalone");
  EXPECT_EQ(c.apisix_bin_path, "/usr/local/bin/apisix");
  EXPECT_EQ(c.apisix_home_path, "/usr/local/apisix");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_output, "stderr");
}

TEST(SidecarConfigTest, AcceptsAValidConfiguration) {
  SidecarConfig c = Valid();
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.listen.ip, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 2379);
}

TEST(SidecarConfigTest, ErrorsNameTheFlagAndWhatIsAccepted) {
  SidecarConfig c = Valid();
  c.provisioner = "xds-v2";
  EXPECT_EQ(ErrorOf(c), "--provisioner: unknown value \"xds-v2\" (accepted: xds-v3-file, xds-v3-grpc)");

  c = Valid();
  c.run_mode = "sidecar";
  EXPECT_EQ(ErrorOf(c), "--run-mode: unknown value \"sidecar\" (accepted: standalone, bundle)");

  c = Valid();
  c.log_level = "trace";
  EXPECT_EQ(ErrorOf(c), "--log-level: unknown value \"trace\" (accepted: debug, info, warn, error)");

  c = Valid();
  c.grpc_listen = "localhost:2379";
  EXPECT_NE(ErrorOf(c).find("--grpc-listen: \"localhost:2379\" is not IP:port"), std::string::npos);
  c.grpc_listen = "127.0.0.1:99999";
  EXPECT_NE(ErrorOf(c).find("--grpc-listen"), std::string::npos);

  c = Valid();
  c.etcd_key_prefix = "apisix/";
  EXPECT_NE(ErrorOf(c).find("--etcd-key-prefix"), std::string::npos);

  c = Valid();
  c.xds_watch_files = {"/nonexistent/xds"};
  EXPECT_EQ(ErrorOf(c), "--xds-watch-files: /nonexistent/xds: No such file or directory");

  c = Valid();
  c.xds_watch_files.clear();
  EXPECT_NE(ErrorOf(c).find("--xds-watch-files: at least one"), std::string::npos);
}

TEST(SidecarConfigTest, EtcdSinkFlagsAreCheckedBeforeAnythingStarts) {
  SidecarConfig c = Valid();
  c.etcd_sink = {"http://10.0.0.1:2379", "http://10.0.0.2:2379"};
  EXPECT_TRUE(Validate(c).ok());

  c.etcd_sink = {"10.0.0.1:2379"};
  EXPECT_EQ(ErrorOf(c), "--etcd-sink: \"10.0.0.1:2379\" is not http://host:port or https://host:port");

  c = Valid();
  c.etcd_sink = {"http://10.0.0.1:2379"};
  c.etcd_sink_owner = "mesh a";  // a label value: no spaces
  EXPECT_NE(ErrorOf(c).find("--etcd-sink-owner"), std::string::npos);
  c.etcd_sink_owner = "mesh\"a";
  EXPECT_NE(ErrorOf(c).find("--etcd-sink-owner"), std::string::npos);

  c = Valid();
  c.etcd_sink = {"http://10.0.0.1:2379"};
  c.etcd_sink_user = "root";
  EXPECT_EQ(ErrorOf(c), "--etcd-sink-user and --etcd-sink-password go together: give both or neither");

  c = Valid();
  c.etcd_sink = {"https://10.0.0.1:2379"};
  c.etcd_sink_cacert = "/nonexistent/ca.pem";
  EXPECT_EQ(ErrorOf(c), "--etcd-sink-cacert: /nonexistent/ca.pem: No such file or directory");

  c = Valid();
  c.etcd_sink = {"http://10.0.0.1:2379"};
  c.max_txn_ops = 1;  // the marker takes one operation of every transaction
  EXPECT_NE(ErrorOf(c).find("--max-txn-ops: must be between 2"), std::string::npos);
  c.max_txn_ops = 128;
  c.etcd_sink_lease_ttl_seconds = 1;
  EXPECT_NE(ErrorOf(c).find("--etcd-sink-lease-ttl"), std::string::npos);

  c = Valid();
  c.etcd_sink_user = "root";  // sink flags without the sink are a mistake, not ignored
  c.etcd_sink_password = "pw";
  EXPECT_EQ(ErrorOf(c), "--etcd-sink-user/--etcd-sink-cacert/--etcd-sink-cert need --etcd-sink");
}

TEST(SidecarConfigTest, FeaturesNotBuiltYetAreRefusedNotIgnored) {
  SidecarConfig c = Valid();
  c.provisioner = "xds-v3-grpc";
  EXPECT_EQ(ErrorOf(c), "--xds-config-source option is required with --provisioner xds-v3-grpc");
  c.xds_config_source = "grpcs://istiod.istio-system.svc:15012";
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_TRUE(c.xds_tls);
  c.xds_client_cert = "/etc/hostname";
  EXPECT_EQ(ErrorOf(c), "--xds-client-cert and --xds-client-key go together");
  c.xds_client_cert.clear();
  c.xds_token_file = "/nonexistent/token";
  EXPECT_EQ(ErrorOf(c), "--xds-token-file: /nonexistent/token: No such file or directory");
  c.xds_token_file.clear();
  c.xds_config_source = "http://istiod:15010";
  EXPECT_NE(ErrorOf(c).find("is not grpc://host:port or grpcs://host:port"), std::string::npos);
  c.xds_config_source = "grpc://istiod.istio-system.svc:15010";
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.xds_target, "istiod.istio-system.svc:15010");

  c = Valid();
  c.run_mode = "bundle";
  c.apisix_home_path = "/nonexistent/apisix";
  EXPECT_EQ(ErrorOf(c), "--apisix-home-path: /nonexistent/apisix is not a directory");
  c.apisix_home_path = "/tmp";
  c.apisix_bin_path = "/nonexistent/bin/apisix";
  EXPECT_EQ(ErrorOf(c), "--apisix-bin-path: /nonexistent/bin/apisix: No such file or directory");
  c.apisix_bin_path = "/bin/true";
  c.apisix_openresty_path = "/nonexistent/openresty";
  EXPECT_EQ(ErrorOf(c), "--apisix-openresty-path: /nonexistent/openresty: No such file or directory");
  c.apisix_openresty_path = "/bin/true";
  EXPECT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.openresty_bin, "/bin/true");
  c.apisix_config_base = "/nonexistent/base.yaml";
  EXPECT_EQ(ErrorOf(c), "--apisix-config-base: /nonexistent/base.yaml: No such file or directory");
  c.apisix_config_base.clear();
  c.drain_seconds = -1;
  EXPECT_EQ(ErrorOf(c), "--drain-duration: must be between 0 and 3600 seconds");
  c.drain_seconds = 5;
  c.max_watches = 10;
  EXPECT_EQ(ErrorOf(c), "--max-watches: must be at least --max-watches-per-stream and at most 10000000");

  c = Valid();
  c.xds_protocol = "incremental";
  EXPECT_EQ(ErrorOf(c), "--xds-protocol: unknown value \"incremental\" (accepted: sotw, delta)");
  c = Valid();
  c.apisix_inbound_port = 9080;
  EXPECT_EQ(ErrorOf(c), "--apisix-port and --apisix-inbound-capture-port must differ");
  c = Valid();
  c.health_listen = "localhost";
  EXPECT_NE(ErrorOf(c).find("--health-listen: "), std::string::npos);
  c.health_listen = "";
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_FALSE(c.health.has_value());
}

TEST(ListenAddressTest, ParsesIpv4AndIpv6) {
  auto v4 = ParseListenAddress("0.0.0.0:17739");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "0.0.0.0:17739");
  auto v6 = ParseListenAddress("[::1]:2379");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ip, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:2379");
  EXPECT_FALSE(ParseListenAddress("127.0.0.1").ok());
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:x").ok());
}

}  // namespace
}  // namespace agent::config


namespace agent::config {
namespace {

TEST(OriginalDestinationsTest, AnOperatorsVariableWinsAndAPathGivenIsAlwaysChecked) {
  auto own = ResolveOriginalDestinations("connection_original_dst", "none");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->var, "connection_original_dst");
  EXPECT_TRUE(own->module_path.empty());
  auto none = ResolveOriginalDestinations("", "none");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->var.empty() && none->module_path.empty());
  auto missing = ResolveOriginalDestinations("v", "/nonexistent/ngx_http_original_dst_module.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--original-dst-module: /nonexistent/"), std::string::npos);
  const std::string path = ::testing::TempDir() + "/ngx_http_original_dst_module.so";
  std::ofstream(path) << "not really";
  auto module = ResolveOriginalDestinations("", path);
  ASSERT_TRUE(module.ok());
  EXPECT_EQ(module->module_path, path);
  EXPECT_EQ(module->var, kOriginalDstModuleVar);
}

}  // namespace
}  // namespace agent::config

namespace agent::config {
namespace {

TEST(MeshFrontFlagTest, OnNeedsItsPartsAndSaysWhich) {
  SidecarConfig c = Valid();
  c.mesh_front = "sometimes";
  EXPECT_NE(ErrorOf(c).find("--mesh-front"), std::string::npos);
  c = Valid();
  c.protocol_detection_timeout_ms = 0;
  EXPECT_NE(ErrorOf(c).find("--protocol-detection-timeout-ms"), std::string::npos);
  // Standalone: off unless asked; on needs the table's path and the original-destination variable.
  c = Valid();
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_FALSE(c.mesh_front_enabled);
  c.mesh_front = "on";
  EXPECT_NE(ErrorOf(c).find("--mesh-front-dir"), std::string::npos);
  c.mesh_front_dir = "/tmp/front";
  EXPECT_NE(ErrorOf(c).find("--original-dst-var"), std::string::npos);
  c.original_dst_var = "original_dst";
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_TRUE(c.mesh_front_enabled);
  EXPECT_EQ(c.mesh_front_table_path, "/tmp/front/table");
  // Bundle mode: on needs the stream module beside the http one.
  const std::string dir = ::testing::TempDir() + "/mesh-front-modules-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/ngx_http_original_dst_module.so") << "x";
  c = Valid();
  c.run_mode = kRunModeBundle;
  c.apisix_home_path = dir;
  c.apisix_bin_path = "/bin/true";
  c.apisix_openresty_path = "/bin/true";
  c.original_dst_module = dir + "/ngx_http_original_dst_module.so";
  c.mesh_front = "on";
  EXPECT_NE(ErrorOf(c).find("ngx_stream_original_dst_module.so beside"), std::string::npos) << ErrorOf(c);
  c.mesh_front = "auto";
  ASSERT_TRUE(Validate(c).ok()) << ErrorOf(c);
  EXPECT_FALSE(c.mesh_front_enabled);  // auto without the stream module: HTTP only
  std::ofstream(dir + "/ngx_stream_original_dst_module.so") << "x";
  ASSERT_TRUE(Validate(c).ok());
  EXPECT_TRUE(c.mesh_front_enabled);
  EXPECT_EQ(c.stream_module_path, dir + "/ngx_stream_original_dst_module.so");
  EXPECT_EQ(c.mesh_front_table_path, dir + "/mesh-front/table");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace agent::config
