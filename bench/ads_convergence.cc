// ADS convergence, end to end: an istiod-like management server (tests/xds/scripted_ads_server.h)
// in this process, the agent binary as a child subscribing to it, and an HTTP watcher on /apisix/
// (as APISIX holds one). Measures, from the moment the server sends to the moment the watcher
// reads the event:
//   full push   — every resource of GEN_DIR pushed to an agent that had none, until the last
//                 APISIX object's event (the watcher goes quiet for 1 s);
//   one change  — CHANGES single-endpoint pushes (istiod's incremental EDS: only that
//                 ClusterLoadAssignment), p50/p99;
// and the agent's peak RSS.  ads_convergence AGENT_BIN GEN_DIR sotw|delta CHANGES
// With SINK_ENDPOINTS WATCH_HOST_PORT PREFIX the agent also writes into an external etcd cluster
// (--etcd-sink SINK_ENDPOINTS --etcd-key-prefix PREFIX) and the watcher reads that cluster (one
// member's HTTP gateway, WATCH_HOST_PORT) instead of the agent: the same times, xDS → the
// cluster's commit as APISIX elsewhere would see it.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench/http_watchers.h"
#include "xds/scripted_ads_server.h"
#include "xds/xds_directory.h"

namespace {

using agent::xds::testing::PackAll;
using agent::xds::testing::ScriptedAdsServer;
using Clock = std::chrono::steady_clock;
namespace mx = agent::xds;

// One HTTP watch whose stream is kept whole, to look for what a push should produce.
class Watch {
 public:
  bool Open(int port, const std::string& prefix = "/apisix") {
    fd_ = agent::bench::ConnectWatch("127.0.0.1", port, prefix + "/", prefix + "0");
    if (fd_ < 0) return false;
    return WaitFor([&] { return data_.find("\"created\":true") != std::string::npos; }, std::chrono::seconds(10));
  }
  // Reads until pred() holds or the timeout passes; true if it held. `last_read` is when the data
  // that made it hold arrived.
  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      timeval tv{0, static_cast<suseconds_t>(std::min<long>(left, 100) * 1000)};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char buffer[65536];
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n > 0) {
        last_read = Clock::now();
        // Count events as data arrives (a needle may straddle two reads), never rescanning it all.
        const size_t from = data_.size() >= kEvent.size() ? data_.size() - kEvent.size() + 1 : 0;
        data_.append(buffer, static_cast<size_t>(n));
        for (size_t at = data_.find(kEvent, from); at != std::string::npos; at = data_.find(kEvent, at + 1)) ++events_;
      }
    }
    return true;
  }
  size_t events() const { return events_; }  // one "kv" per event: PUT or DELETE of one key
  Clock::time_point last_read;

 private:
  inline static const std::string kEvent = "\"kv\":";
  int fd_ = -1;
  std::string data_;
  size_t events_ = 0;
};

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values.empty() ? -1 : values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 8) {
    std::cerr << "usage: ads_convergence AGENT_BIN GEN_DIR sotw|delta CHANGES [SINK_ENDPOINTS WATCH_HOST_PORT PREFIX]\n";
    return 2;
  }
  const std::string agent_bin = argv[1], dir = argv[2], protocol = argv[3];
  const int changes = std::stoi(argv[4]);
  const bool sink = argc == 8;
  const std::string sink_endpoints = sink ? argv[5] : "", prefix = sink ? argv[7] : "/apisix";
  const int sink_watch_port = sink ? std::atoi(strchr(argv[6], ':') ? strchr(argv[6], ':') + 1 : argv[6]) : 0;
  auto loaded = agent::xds::testing::LoadXdsDirectory(dir);
  if (!loaded.ok()) {
    std::cerr << loaded.status().message() << "\n";
    return 1;
  }
  const mx::ResourceSnapshot& snapshot = *loaded;

  ScriptedAdsServer service;
  for (const char* type : mx::kAdsTypes) service.Set(type, "0", {});  // an empty mesh to start with
  int ads_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &ads_port);
  builder.SetMaxSendMessageSize(256 << 20);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();

  // The agent, on a free port it reports in its log.
  const std::string log = "/tmp/ads_convergence_agent." + std::to_string(getpid()) + ".log";
  const pid_t agent = fork();
  if (agent == 0) {
    const std::string source = "grpc://127.0.0.1:" + std::to_string(ads_port);
    freopen(log.c_str(), "w", stderr);
    if (sink) {
      execl(agent_bin.c_str(), agent_bin.c_str(), "sidecar", "--provisioner", "xds-v3-grpc", "--xds-config-source",
            source.c_str(), "--xds-protocol", protocol.c_str(), "--grpc-listen", "127.0.0.1:0", "--health-listen", "",
            "--admin-listen", "", "--etcd-sink", sink_endpoints.c_str(), "--etcd-key-prefix", prefix.c_str(), nullptr);
    } else {
      execl(agent_bin.c_str(), agent_bin.c_str(), "sidecar", "--provisioner", "xds-v3-grpc", "--xds-config-source",
            source.c_str(), "--xds-protocol", protocol.c_str(), "--grpc-listen", "127.0.0.1:0", "--health-listen", "",
            "--admin-listen", "", nullptr);
    }
    _exit(127);
  }
  int etcd_port = 0;
  for (int i = 0; i < 100 && etcd_port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream agent_log(log);
    std::string text((std::istreambuf_iterator<char>(agent_log)), std::istreambuf_iterator<char>());
    const size_t at = text.find("listening on 127.0.0.1:");
    if (at != std::string::npos) etcd_port = std::atoi(text.c_str() + at + strlen("listening on 127.0.0.1:"));
  }
  if (etcd_port == 0) {
    std::cerr << "the agent did not start (see " << log << ")\n";
    kill(agent, SIGTERM);
    return 1;
  }
  Watch watch;
  if (!watch.Open(sink ? sink_watch_port : etcd_port, prefix)) {
    std::cerr << "watch failed\n";
    return 1;
  }
  // The empty configuration is in (with a sink: it is elected and has written its marker).
  std::this_thread::sleep_for(std::chrono::milliseconds(sink ? 1500 : 500));

  // Full push: clusters and listeners pushed, the named types served as the agent asks for them.
  service.Set(mx::kClusterLoadAssignmentType, "1", PackAll(snapshot.cluster_load_assignments));
  service.Set(mx::kRouteConfigurationType, "1", PackAll(snapshot.route_configurations));
  const size_t before = watch.events();
  const auto t0 = Clock::now();
  service.Push(mx::kClusterType, "1", PackAll(snapshot.clusters));
  service.Push(mx::kListenerType, "1", PackAll(snapshot.listeners));
  size_t seen = before;
  watch.WaitFor(
      [&] {
        const size_t now = watch.events();
        if (now != seen) {
          seen = now;
          return false;
        }
        return seen > before && Clock::now() - watch.last_read > std::chrono::seconds(1);
      },
      std::chrono::seconds(120));
  const double full_ms = std::chrono::duration<double, std::milli>(watch.last_read - t0).count();

  // One endpoint at a time.
  std::vector<double> latencies;
  std::vector<std::string> names;
  for (const auto& [name, cla] : snapshot.cluster_load_assignments) names.push_back(name);
  for (int k = 0; k < changes && !names.empty(); ++k) {
    auto cla = snapshot.cluster_load_assignments.at(names[(k * 7919) % names.size()]).Unpack();
    const std::string ip = "172.16." + std::to_string((k >> 8) & 255) + "." + std::to_string(k & 255);
    cla.mutable_endpoints(0)->mutable_lb_endpoints(0)->mutable_endpoint()->mutable_address()->mutable_socket_address()->set_address(ip);
    google::protobuf::Any any;
    any.PackFrom(cla);
    // Values are base64 in the gateway's JSON: the change is the one event (one kv) it causes.
    const size_t events_before = watch.events();
    const auto start = Clock::now();
    service.PushOnly(mx::kClusterLoadAssignmentType, std::to_string(k + 2), {any});
    if (!watch.WaitFor([&] { return watch.events() > events_before; }, std::chrono::seconds(10))) {
      std::cerr << "endpoint change " << k << " never reached the watcher\n";
      break;
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(watch.last_read - start).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  long peak_kb = 0;
  {
    std::ifstream status("/proc/" + std::to_string(agent) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmHWM:", 0) == 0) peak_kb = std::stol(line.substr(6));
    }
  }
  kill(agent, SIGTERM);
  waitpid(agent, nullptr, 0);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  std::cout << "objects " << (seen - before) << " full_push_ms " << full_ms << " change_p50_ms "
            << Percentile(latencies, 0.5) << " change_p99_ms " << Percentile(latencies, 0.99) << " peak_rss_mb "
            << peak_kb / 1024 << "\n";
  return 0;
}
