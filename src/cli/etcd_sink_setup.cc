#include "cli/etcd_sink_setup.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace agent::cli {

namespace {

// Who this agent is in the election key's value: the pod (Kubernetes' downward API sets POD_NAME
// by convention, HOSTNAME always), else the host, and the process.
std::string Identity() {
  std::string who;
  for (const char* variable : {"POD_NAME", "HOSTNAME"}) {
    if (const char* v = std::getenv(variable); v != nullptr && *v != '\0') {
      who = v;
      break;
    }
  }
  if (who.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) == 0) who = host;
  }
  return absl::StrCat(who.empty() ? "unknown" : who, "/", ::getpid());
}

}  // namespace

absl::StatusOr<std::unique_ptr<sink::EtcdSink>> MakeEtcdSink(const config::SidecarConfig& config) {
  if (config.etcd_sink.empty()) return std::unique_ptr<sink::EtcdSink>();
  sink::EtcdClientOptions client;
  client.endpoints = config.etcd_sink;
  client.user = config.etcd_sink_user;
  client.password = config.etcd_sink_password;
  client.ca_file = config.etcd_sink_cacert;
  client.cert_file = config.etcd_sink_cert;
  client.key_file = config.etcd_sink_key;
  client.timeout = std::chrono::milliseconds(config.etcd_sink_timeout_ms);
  auto made = sink::EtcdClient::Create(std::move(client));
  if (!made.ok()) return made.status();
  sink::EtcdSinkOptions options;
  options.prefix = config.etcd_key_prefix;
  options.owner = config.etcd_sink_owner;
  options.identity = Identity();
  options.max_txn_ops = config.max_txn_ops;
  options.lease_ttl_seconds = config.etcd_sink_lease_ttl_seconds;
  options.resync_seconds = config.etcd_sink_resync_seconds;
  return std::make_unique<sink::EtcdSink>(std::move(options), std::move(*made));
}

}  // namespace agent::cli
