// The agent's etcd endpoint: ONE port for both protocols, as etcd serves them (DESIGN.md §3). The
// acceptor peeks at the first bytes of each connection: the HTTP/2 preface ("PRI * HTTP/2.0")
// hands the socket to the gRPC server, anything else is HTTP/1.1 for the JSON gateway.
#pragma once

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "common/accept_backoff.h"
#include "config/listen_address.h"
#include "etcd/etcd_api.h"
#include "etcd/grpc_services.h"
#include "store/kv_store.h"

namespace agent::etcd {

class EtcdServer {
 public:
  EtcdServer(store::KvStore& store, config::ListenAddress listen, EtcdApiOptions options, int io_threads = 2);
  ~EtcdServer();

  absl::Status Start();
  void Stop();

  uint16_t port() const { return port_; }  // the bound port (useful when asked for port 0)
  EtcdApi& api() { return api_; }

 private:
  void Accept();
  // Hands a new connection to gRPC or the HTTP gateway by its first bytes; `silence` (optional)
  // closes it if it says nothing within the idle timeout.
  void Sniff(std::shared_ptr<boost::asio::ip::tcp::socket> socket, std::shared_ptr<boost::asio::steady_timer> silence,
             int waited_ms = 0);
  void ScheduleLeaseExpiry();

  config::ListenAddress listen_;
  int io_thread_count_;
  EtcdApi api_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer lease_timer_;
  AcceptBackoff accept_backoff_;
  std::vector<std::thread> io_threads_;
  KvService kv_service_;
  WatchService watch_service_;
  LeaseService lease_service_;
  MaintenanceService maintenance_service_;
  ClusterService cluster_service_;
  AuthService auth_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  uint16_t port_ = 0;
};

}  // namespace agent::etcd
