// A small ADS management server for end-to-end tests: serves the xDS JSON files of a directory
// (DiscoveryResponse format, as the file provisioner reads them) over
// StreamAggregatedResources — the wildcard types whole, the named types filtered by the names
// asked for — and prints "listening on 127.0.0.1:PORT".
#include <filesystem>
#include <iostream>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/file_set.h"

namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

template <typename Map>
void Add(DiscoveryResponse& response, const Map& resources, const DiscoveryRequest& request) {
  std::set<std::string> wanted(request.resource_names().begin(), request.resource_names().end());
  for (const auto& [name, message] : resources) {
    if (wanted.empty() || wanted.count(name) > 0) response.add_resources()->PackFrom(message);
  }
}

class FileAdsServer final : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  explicit FileAdsServer(agent::xds::ResourceSnapshot snapshot) : snapshot_(std::move(snapshot)) {}

  grpc::Status StreamAggregatedResources(grpc::ServerContext*,
                                         grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream) override {
    DiscoveryRequest request;
    std::map<std::string, std::vector<std::string>> answered;  // type → names last answered
    while (stream->Read(&request)) {
      std::vector<std::string> names(request.resource_names().begin(), request.resource_names().end());
      auto it = answered.find(request.type_url());
      if (it != answered.end() && it->second == names) continue;  // an ACK or NACK
      answered[request.type_url()] = names;
      DiscoveryResponse response;
      response.set_type_url(request.type_url());
      response.set_version_info("1");
      response.set_nonce(std::to_string(++nonce_));
      if (request.type_url() == agent::xds::kClusterType) Add(response, snapshot_.clusters, request);
      if (request.type_url() == agent::xds::kListenerType) Add(response, snapshot_.listeners, request);
      if (request.type_url() == agent::xds::kClusterLoadAssignmentType) {
        Add(response, snapshot_.cluster_load_assignments, request);
      }
      if (request.type_url() == agent::xds::kRouteConfigurationType) Add(response, snapshot_.route_configurations, request);
      stream->Write(response);
    }
    return grpc::Status::OK;
  }

 private:
  agent::xds::ResourceSnapshot snapshot_;
  int nonce_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ads_file_server DIR\n";
    return 2;
  }
  agent::xds::FileSet files;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    bool changed = false;
    if (auto s = files.Load(entry.path().string(), &changed); !s.ok()) {
      std::cerr << s.message() << "\n";
      return 1;
    }
  }
  FileAdsServer service(files.Merge());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  std::cout << "listening on 127.0.0.1:" << port << std::endl;
  server->Wait();
}
