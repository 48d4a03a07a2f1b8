#include "cli/sidecar_command.h"

#include <chrono>
#include <optional>
#include <fstream>
#include <iterator>
#include <csignal>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "apisix/key_layout.h"
#include "cli/apisix_bundle.h"
#include "cli/etcd_sink_setup.h"
#include "cli/mesh_front_setup.h"
#include "cli/observability.h"
#include "cli/shutdown_control.h"
#include "common/heap.h"
#include "common/logging.h"
#include "etcd/server.h"
#include "health/health_server.h"
#include "health/readiness.h"
#include "reconcile/reconciler.h"
#include "store/kv_store.h"
#include "store/revision_seed.h"
#include "xds/ads_client.h"
#include "xds/file_source.h"
#include "xds/node_identity.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION "unknown"
#endif

namespace agent::cli {

namespace {

int Fail(absl::string_view message) {
  std::cerr << "Error: " << message << "\n";
  return 2;
}

// The xds-v3-grpc provisioner from the flags: target, TLS material, protocol, the pod's identity.
std::unique_ptr<xds::AdsClient> MakeAdsClient(const config::SidecarConfig& config, xds::AdsClient::UpdateCallback on_update,
                                              xds::AdsClient::ReadyCallback on_ready) {
  xds::AdsClientOptions ads_options;
  ads_options.target = config.xds_target;
  ads_options.tls = config.xds_tls;
  ads_options.token_file = config.xds_token_file;
  ads_options.delta = config.xds_protocol == "delta";
  for (const auto& [path, pem] : {std::pair<const std::string*, std::string*>{&config.xds_ca_file, &ads_options.ca_pem},
                                  {&config.xds_client_cert, &ads_options.client_cert_pem},
                                  {&config.xds_client_key, &ads_options.client_key_pem}}) {
    if (path->empty()) continue;
    std::ifstream in(*path);
    pem->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const xds::NodeIdentity identity = xds::NodeIdentity::FromEnvironment();
  ads_options.node = identity.ToNode(AGENT_VERSION);
  log::Info("xds-v3-grpc: %s ADS from %s as %s", config.xds_protocol == "delta" ? "Delta" : "SotW", config.xds_target,
            identity.NodeId());
  return std::make_unique<xds::AdsClient>(ads_options, std::move(on_update), std::move(on_ready));
}

}  // namespace

int RunSidecar(config::SidecarConfig config) {
  const auto started = std::chrono::steady_clock::now();
  log::Level level;
  if (auto s = log::ParseLevel(config.log_level, &level); !s.ok()) return Fail(s.message());
  if (auto s = log::Configure(level, config.log_output); !s.ok()) return Fail(s.message());
  log::SetFormat(config.log_format == "json" ? log::Format::kJson : log::Format::kText);

  auto initial_revision = store::InitialRevision(config.revision_file, absl::ToUnixMillis(absl::Now()));
  if (!initial_revision.ok()) return Fail(absl::StrCat("--revision-file: ", initial_revision.status().message()));
  store::StoreOptions store_options;
  store_options.initial_revision = *initial_revision;
  store_options.max_history_bytes = config.max_history_bytes;
  // Revisions are saved ahead of use, not only at exit: after a kill -9 the next start is still
  // above every revision APISIX has seen (100,000 at a time: one fsync per block).
  std::optional<store::RevisionReservation> reservation;
  if (!config.revision_file.empty()) {
    reservation.emplace(config.revision_file, 100000, [](const absl::Status& s) {
      log::Error("--revision-file: %s (revisions may repeat after a crash until it can be written)", s.message());
    });
    store_options.before_revision = [&reservation](int64_t revision) { reservation->BeforeRevision(revision); };
  }
  store::KvStore store(store_options);

  const auto line = config.apisix_version == "2.x" ? apisix::VersionLine::k2x : apisix::VersionLine::k3x;
  translate::TranslateOptions translate_options;
  translate_options.original_dst_var = config.effective_original_dst_var;
  translate_options.outbound_capture_port = static_cast<uint32_t>(config.apisix_port);
  translate_options.inbound_capture_port = static_cast<uint32_t>(config.apisix_inbound_port);
  // The agent knows APISIX's ports where it renders them, or where the operator says connections
  // are intercepted (an original-destination variable).
  translate_options.bind_direction =
      config.run_mode == config::kRunModeBundle || !config.effective_original_dst_var.empty();
  auto front_table_sink = PrepareMeshFront(config, translate_options);
  if (!front_table_sink.ok()) return Fail(front_table_sink.status().message());
  reconcile::Reconciler reconciler(store, apisix::KeyLayout(config.etcd_key_prefix, line), translate_options,
                                   std::move(*front_table_sink));
  reconciler.Initialize();
  Observability observability(store, reconciler, apisix::KeyLayout(config.etcd_key_prefix, line));
  auto etcd_sink = MakeEtcdSink(config);  // --etcd-sink: follows every commit into an external etcd
  if (!etcd_sink.ok()) return Fail(etcd_sink.status().message());
  if (*etcd_sink) {
    reconciler.SetCommitObserver([sink = etcd_sink->get()](int64_t revision, const std::vector<store::Mutation>& m) {
      sink->OnCommit(revision, m);
    });
    observability.SetEtcdSink(etcd_sink->get());
  }

  etcd::EtcdApiOptions api_options;
  api_options.user = config.etcd_user;
  api_options.password = config.etcd_password;
  api_options.max_request_bytes = config.max_request_bytes;
  api_options.watch_limits = {.per_stream = config.max_watches_per_stream, .total = config.max_watches};
  api_options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  api_options.guard = [&reconciler](const std::string& key) {
    if (!reconciler.Owns(key)) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("apisix-mesh-agent: ", key,
                                                      " is translated from xDS and read-only; change the xDS "
                                                      "configuration instead"));
  };
  api_options.metrics = [&observability] { return observability.registry().RenderPrometheus(); };
  api_options.observe = [&observability](absl::string_view method, absl::string_view protocol, absl::StatusCode code,
                                         double seconds) { observability.ObserveEtcd(method, protocol, code, seconds); };
  etcd::EtcdServer server(store, config.listen, std::move(api_options));
  if (auto s = server.Start(); !s.ok()) {
    log::Error("%s", s.message());
    return 1;
  }
  config::ListenAddress bound = config.listen;
  bound.port = server.port();
  log::Info("etcd v3 API (gRPC and HTTP) listening on %s, key prefix %s, starting at revision %d%s", bound.ToString(),
            config.etcd_key_prefix, store.current_revision(), config.etcd_user.empty() ? "" : ", auth required");

  observability.SetWatchRegistry(&server.api().watch_registry());
  boost::asio::io_context io;
  auto apply = [&](const xds::ResourceSnapshot& snapshot, const xds::SnapshotChanges* changes) {
    const auto arrived = std::chrono::steady_clock::now();
    reconcile::ApplyStats stats = reconciler.Apply(snapshot, changes);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count();
    observability.ObserveApply(seconds);
    log::InfoWith({{"event", "applied"},
                   {"revision", stats.revision},
                   {"resources", snapshot.size()},
                   {"routes", stats.routes},
                   {"upstreams", stats.upstreams},
                   {"stream_routes", stats.stream_routes},
                   {"puts", stats.puts},
                   {"deletes", stats.deletes},
                   {"skipped", stats.skipped},
                   {"microseconds", static_cast<int64_t>(seconds * 1e6)}},
                  "applied xDS (%d resources): %d routes, %d upstreams, %d stream routes, %d puts, %d deletes, %d "
                  "skipped; revision %d",
                  snapshot.size(), stats.routes, stats.upstreams, stats.stream_routes, stats.puts, stats.deletes,
                  stats.skipped, stats.revision);
    // A full translation frees its temporaries: merge them before the next push rather than on its
    // path (measured at N=10,000: the next endpoint push's apply 8–10 ms → 2.5 ms; steady RSS −8 MB),
    // but after what this update queues on the io thread (readiness: the objects are served already,
    // and a start need not wait ~15 ms for the heap). Two hops: a handler posted now would run first.
    if (changes == nullptr || !changes->EndpointsOnly()) {
      boost::asio::post(io, [&io] { boost::asio::post(io, [] { heap::Consolidate(); }); });
    }
  };
  const bool bundle = config.run_mode == config::kRunModeBundle;
  health::Readiness readiness(bundle);
  if (*etcd_sink) readiness.AddCondition([sink = etcd_sink->get()] { return sink->NotReadyReason(); });
  // Bundle mode: APISIX starts once the first configuration is served, and its death ends the agent.
  std::unique_ptr<apisix::ApisixRunner> apisix_runner;
  ShutdownControl control(io, readiness, std::chrono::seconds(bundle ? config.drain_seconds : 0), [&] {
    if (apisix_runner) apisix_runner->ReopenLogs();
  });
  auto shutdown = [&](int code) { control.Exit(code); };
  health::HealthServer health_server(readiness, [&] { control.RequestStop("POST /quitquitquit"); });
  if (config.health) {
    if (auto s = health_server.Start(*config.health); !s.ok()) {
      log::Error("%s", s.message());
      server.Stop();
      return 1;
    }
    config::ListenAddress health_bound = *config.health;
    health_bound.port = health_server.port();
    log::Info("health checks on http://%s/healthz/live and /healthz/ready", health_bound.ToString());
  }
  if (config.admin) {
    if (auto s = observability.StartAdmin(*config.admin, config.admin_allow_remote); !s.ok()) {
      log::Error("%s", s.message());
      health_server.Stop();
      server.Stop();
      return 1;
    }
    config::ListenAddress admin_bound = *config.admin;
    admin_bound.port = observability.admin_port();
    log::Info("admin endpoint on http://%s (/stats/prometheus, /config_dump, /syncz, /logging)%s",
              admin_bound.ToString(), config.admin_allow_remote ? ", answering every peer" : "");
  }

  // Runs once, on the io thread: the first configuration is served (or the wait timed out).
  auto config_served = [&] {
    if (readiness.config_served()) return;
    readiness.SetConfigServed();
    const auto ready_ms =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count() / 1e3;
    log::Info("ready in %.1f ms: serving revision %d", ready_ms, store.current_revision());
    if (!bundle) return;
    auto runner = PrepareApisix(
        config, server.port(), [&readiness](bool serving) { readiness.SetApisixRunning(serving); },
        [&](const absl::Status& status) {
          boost::asio::post(io, [&, status] {
            log::Error("bundle mode: %s", status.message());
            shutdown(1);
          });
        });
    if (!runner.ok()) {
      log::Error("bundle mode: %s", runner.status().message());
      return shutdown(1);
    }
    apisix_runner = std::move(*runner);
    apisix_runner->Start();
  };

  if (*etcd_sink) (*etcd_sink)->Start();
  std::unique_ptr<xds::FileSource> file_source;
  std::unique_ptr<xds::AdsClient> ads_client;
  if (config.provisioner == config::kProvisionerGrpc) {
    ads_client = MakeAdsClient(
        config,
        [&](const xds::ResourceSnapshot& snapshot, const xds::SnapshotChanges& changes) { apply(snapshot, &changes); },
        [&] { boost::asio::post(io, config_served); });
    observability.SetXdsSource(ads_client.get(), nullptr);
    ads_client->Start();
  } else {
    file_source = std::make_unique<xds::FileSource>(
        io, config.xds_watch_files, [&](const xds::ResourceSnapshot& snapshot) { apply(snapshot, nullptr); });
    if (auto s = file_source->Start(); !s.ok()) {
      log::Error("xds-v3-file: %s", s.message());
      server.Stop();
      return 1;
    }
    observability.SetXdsSource(nullptr, file_source.get());
    boost::asio::post(io, config_served);  // the files were read and applied by Start()
  }
  boost::asio::steady_timer ready_timer(io, std::chrono::seconds(config.ready_timeout_seconds));
  ready_timer.async_wait([&](const boost::system::error_code& ec) {
    if (ec || readiness.config_served()) return;
    log::Warn("no complete xDS configuration after %d s (--ready-timeout): reporting ready%s with what is served "
              "(revision %d)",
              config.ready_timeout_seconds, bundle ? " and starting APISIX" : "", store.current_revision());
    config_served();
  });

  control.Start();
  io.run();
  // APISIX goes first, while the agent still serves it its configuration.
  if (apisix_runner) apisix_runner->Stop();
  observability.Stop();  // before the sources it reads go away
  observability.SetXdsSource(nullptr, nullptr);
  if (file_source) file_source->Stop();
  if (ads_client) ads_client->Stop();
  if (*etcd_sink) (*etcd_sink)->Stop();  // steps down: a standby agent takes over at once
  health_server.Stop();
  server.Stop();
  if (!config.revision_file.empty()) {
    if (auto s = store::SaveRevision(config.revision_file, store.current_revision()); !s.ok()) {
      log::Error("--revision-file: %s", s.message());
    }
  }
  log::Info("stopped at revision %d", store.current_revision());
  return control.exit_code();
}

}  // namespace agent::cli
