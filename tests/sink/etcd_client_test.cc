#include "sink/etcd_client.h"

#include <gtest/gtest.h>

namespace agent::sink {
namespace {

std::string ErrorOf(std::vector<std::string> endpoints, EtcdClientOptions o = {}) {
  o.endpoints = std::move(endpoints);
  auto c = EtcdClient::Create(std::move(o));
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(EtcdClientTest, EndpointsAreCheckedAsEtcdctlWouldTakeThem) {
  EXPECT_EQ(ErrorOf({"http://127.0.0.1:2379", "http://etcd-1.etcd:2379/"}), "");
  EXPECT_EQ(ErrorOf({}), "--etcd-sink: no endpoint given");
  EXPECT_EQ(ErrorOf({"ftp://127.0.0.1:2379"}),
            "--etcd-sink: ftp://127.0.0.1:2379 is not an http:// or https:// URL (as etcd's --endpoints)");
  for (const char* bad : {"http://", "http://host", "http://host:", "http://:2379", "http://host:port",
                          "http://host:2379/v3"}) {
    EXPECT_EQ(ErrorOf({bad}), std::string("--etcd-sink: ") + bad + " must be scheme://host:port") << bad;
  }
  EXPECT_EQ(ErrorOf({"http://a:1", "https://b:1"}), "--etcd-sink: mixes http:// and https:// endpoints");
}

TEST(EtcdClientTest, CredentialsMustFitTheEndpoints) {
  EtcdClientOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(ErrorOf({"http://a:1"}, o), "--etcd-sink-cacert/--etcd-sink-cert need https:// endpoints");
  EXPECT_EQ(ErrorOf({"https://a:1"}, o), "--etcd-sink-cacert: /nonexistent/ca.pem: cannot open: No such file or directory");
  EtcdClientOptions half;
  half.cert_file = "/etc/hostname";
  EXPECT_EQ(ErrorOf({"https://a:1"}, half), "--etcd-sink-cert and --etcd-sink-key go together");
  EtcdClientOptions user;
  user.user = "root";
  EXPECT_EQ(ErrorOf({"http://a:1"}, user), "--etcd-sink-user and --etcd-sink-password go together");
}

// Nothing listens: every member is tried once, and the error names the call and the member.
TEST(EtcdClientTest, AnUnreachableClusterFailsWithinTheTimeoutNamingTheMember) {
  EtcdClientOptions o;
  o.endpoints = {"http://127.0.0.1:1", "http://127.0.0.1:2"};
  o.timeout = std::chrono::milliseconds(300);
  auto client = EtcdClient::Create(o);
  ASSERT_TRUE(client.ok());
  etcdserverpb::RangeRequest r;
  r.set_key("/apisix");
  auto got = (*client)->Range(r);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("range on http://127.0.0.1:"), std::string::npos) << got.status();
  EXPECT_EQ((*client)->endpoint(), "http://127.0.0.1:2");  // the next call starts with the other member
}

}  // namespace
}  // namespace agent::sink
