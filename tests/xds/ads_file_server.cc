// The management server of the end-to-end tests: serves the xDS JSON files of a directory
// (DiscoveryResponse format, as the file provisioner reads them) over SotW and Delta ADS with
// istiod's request handling (ScriptedAdsServer). On SIGHUP it re-reads the directory and pushes
// the types that changed, as istiod pushes a config change; on SIGUSR1 it pushes its clusters
// plus one without a name (a resource the client must reject); it prints every NACK it receives.
//   ads_file_server DIR [PORT]   → prints "listening on 127.0.0.1:PORT"
#include <signal.h>

#include <iostream>
#include <thread>

#include "xds/scripted_ads_server.h"
#include "xds/xds_directory.h"

namespace {

using agent::xds::testing::ScriptedAdsServer;

bool Load(const std::string& dir, std::map<std::string, std::vector<google::protobuf::Any>>& by_type) {
  auto snapshot = agent::xds::testing::LoadXdsDirectory(dir);
  if (!snapshot.ok()) {
    std::cerr << "not reloaded: " << snapshot.status().message() << std::endl;
    return false;
  }
  using agent::xds::testing::PackAll;
  by_type = {{agent::xds::kClusterType, PackAll(snapshot->clusters)},
             {agent::xds::kClusterLoadAssignmentType, PackAll(snapshot->cluster_load_assignments)},
             {agent::xds::kListenerType, PackAll(snapshot->listeners)},
             {agent::xds::kRouteConfigurationType, PackAll(snapshot->route_configurations)}};
  return true;
}

bool Same(const std::vector<google::protobuf::Any>& a, const std::vector<google::protobuf::Any>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].SerializeAsString() != b[i].SerializeAsString()) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::cerr << "usage: ads_file_server DIR [PORT]\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before gRPC starts its threads

  const std::string dir = argv[1];
  std::map<std::string, std::vector<google::protobuf::Any>> served;
  if (!Load(dir, served)) return 1;
  ScriptedAdsServer service;
  int version = 1;
  for (const auto& [type, resources] : served) service.Set(type, std::to_string(version), resources);

  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::string(argc == 3 ? argv[2] : "0"), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  std::cout << "listening on 127.0.0.1:" << port << std::endl;

  std::atomic<bool> done{false};
  std::thread nack_reporter([&] {
    size_t seen = 0, seen_delta = 0;
    int streams = 0;
    while (!done) {
      for (; streams < service.streams_opened(); ++streams) std::cout << "stream " << streams + 1 << " opened" << std::endl;
      auto requests = service.requests();
      for (; seen < requests.size(); ++seen) {
        if (requests[seen].has_error_detail()) {
          std::cout << "NACK " << requests[seen].type_url() << " version " << requests[seen].version_info() << ": "
                    << requests[seen].error_detail().message() << std::endl;
        }
      }
      auto delta = service.delta_requests();
      for (; seen_delta < delta.size(); ++seen_delta) {
        if (delta[seen_delta].has_error_detail()) {
          std::cout << "NACK " << delta[seen_delta].type_url() << ": " << delta[seen_delta].error_detail().message()
                    << std::endl;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGUSR1) {
      auto clusters = served[agent::xds::kClusterType];
      clusters.emplace_back().PackFrom(envoy::config::cluster::v3::Cluster());
      service.Push(agent::xds::kClusterType, std::to_string(++version), clusters);
      std::cout << "pushed version " << version << " with a nameless cluster" << std::endl;
      continue;
    }
    if (signal != SIGHUP) break;
    std::map<std::string, std::vector<google::protobuf::Any>> next;
    if (!Load(dir, next)) continue;
    ++version;
    std::vector<std::string> pushed;
    for (const char* type : agent::xds::kAdsTypes) {  // istiod's push order
      if (Same(next[type], served[type])) continue;
      service.Push(type, std::to_string(version), next[type]);
      pushed.push_back(type);
    }
    served = std::move(next);
    std::cout << "pushed version " << version << ": " << pushed.size() << " type(s)" << std::endl;
  }
  done = true;
  nack_reporter.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
}
