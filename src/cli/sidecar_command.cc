#include "cli/sidecar_command.h"

#include <chrono>
#include <csignal>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "apisix/key_layout.h"
#include "common/logging.h"
#include "etcd/server.h"
#include "reconcile/reconciler.h"
#include "store/kv_store.h"
#include "xds/file_source.h"

namespace agent::cli {

int RunSidecar(config::SidecarConfig config) {
  const auto started = std::chrono::steady_clock::now();
  log::Level level;
  if (auto s = log::ParseLevel(config.log_level, &level); !s.ok()) {
    std::cerr << "Error: " << s.message() << "\n";
    return 2;
  }
  if (auto s = log::Configure(level, config.log_output); !s.ok()) {
    std::cerr << "Error: " << s.message() << "\n";
    return 2;
  }

  store::KvStore store;
  reconcile::Reconciler reconciler(store, apisix::KeyLayout(config.etcd_key_prefix));
  reconciler.Initialize();

  etcd::EtcdServer server(store, config.listen);
  if (auto s = server.Start(); !s.ok()) {
    log::Error("%s", s.message());
    return 1;
  }
  config::ListenAddress bound = config.listen;
  bound.port = server.port();
  log::Info("etcd v3 API (gRPC and HTTP) listening on %s, key prefix %s", bound.ToString(), config.etcd_key_prefix);

  boost::asio::io_context io;
  xds::FileSource source(io, config.xds_watch_files, [&](const xds::ResourceSnapshot& snapshot) {
    reconcile::ApplyStats stats = reconciler.Apply(snapshot);
    log::Info("applied xDS (%d resources): %d routes, %d upstreams, %d puts, %d deletes, %d skipped; revision %d",
              snapshot.size(), stats.routes, stats.upstreams, stats.puts, stats.deletes, stats.skipped,
              stats.revision);
  });
  if (auto s = source.Start(); !s.ok()) {
    log::Error("xds-v3-file: %s", s.message());
    server.Stop();
    return 1;
  }
  const auto ready_ms =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count() / 1e3;
  log::Info("ready in %.1f ms: serving revision %d", ready_ms, store.current_revision());

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::Info("received signal %d, shutting down", signal);
    source.Stop();
    io.stop();
  });
  io.run();
  server.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace agent::cli
