#include "cli/observability.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION "unknown"
#endif

namespace agent::cli {

namespace {

using Samples = metrics::Registry::Samples;

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double OpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (const dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n - 1;  // the directory's own descriptor
}

std::string ShortType(const std::string& type_url) { return type_url.substr(type_url.rfind('.') + 1); }

// The watchers' state at one instant, by protocol.
struct WatchSummary {
  std::map<std::string, double> streams, watchers, behind;
  int64_t max_lag = 0;  // revisions between the store and the furthest-behind watcher
};

WatchSummary SummarizeWatches(const etcd::WatchRegistry& registry, int64_t current) {
  WatchSummary out;
  for (etcd::WatchProtocol p : etcd::kWatchProtocols) {
    const std::string name(etcd::ProtocolName(p));
    out.streams[name] = out.watchers[name] = out.behind[name] = 0;
  }
  for (const etcd::WatchStreamStatus& s : registry.Streams()) {
    const std::string name(etcd::ProtocolName(s.protocol));
    out.streams[name] += 1;
    for (const etcd::WatcherStatus& w : s.watchers) {
      out.watchers[name] += 1;
      if (w.pending) out.behind[name] += 1;
      out.max_lag = std::max(out.max_lag, current - w.sent_revision);
    }
  }
  return out;
}

Samples ByProtocol(const std::map<std::string, double>& values) {
  Samples out;
  for (const auto& [protocol, value] : values) out.push_back({{protocol}, value});
  return out;
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

}  // namespace

Observability::Observability(store::KvStore& store, reconcile::Reconciler& reconciler, apisix::KeyLayout layout)
    : store_(store), reconciler_(reconciler), layout_(std::move(layout)),
      apply_seconds_(registry_
                         .AddHistogram("apisix_mesh_agent_xds_apply_seconds",
                                       "From an xDS update's arrival to the store revision that serves its translation.",
                                       metrics::LatencyBuckets())
                         .With({})) {
  RegisterMetrics();
}

Observability::~Observability() { Stop(); }

void Observability::RegisterMetrics() {
  auto& r = registry_;
  r.AddGaugeCallback("apisix_mesh_agent_build_info", "The agent's version (always 1).", {"version"},
                     [] { return Samples{{{AGENT_VERSION}, 1}}; });
  r.AddGaugeCallback("process_resident_memory_bytes", "Resident memory of the agent.", {},
                     [] { return Samples{{{}, ResidentBytes()}}; });
  r.AddGaugeCallback("process_open_fds", "Open file descriptors of the agent.", {},
                     [] { return Samples{{{}, OpenFds()}}; });
  r.AddGaugeCallback("process_start_time_seconds", "When the agent started (Unix time).", {}, [this] {
    return Samples{{{}, std::chrono::duration<double>(started_.time_since_epoch()).count()}};
  });
  r.AddGaugeCallback("apisix_mesh_agent_uptime_seconds", "Seconds since the agent started.", {}, [this] {
    return Samples{{{}, std::chrono::duration<double>(std::chrono::system_clock::now() - started_).count()}};
  });
  // xDS.
  auto types = [this](const std::function<double(const xds::TypeSyncStatus&)>& value) {
    Samples out;
    if (const xds::AdsClient* ads = ads_.load()) {
      for (const auto& t : ads->GetStatus().types) out.push_back({{ShortType(t.type)}, value(t)});
    }
    return out;
  };
  r.AddCounterCallback("apisix_mesh_agent_xds_responses_total", "xDS responses received from the control plane.",
                       {"type"}, [types] { return types([](const auto& t) { return double(t.responses); }); });
  r.AddCounterCallback("apisix_mesh_agent_xds_acks_total", "xDS responses accepted (ACK).", {"type"},
                       [types] { return types([](const auto& t) { return double(t.acks); }); });
  r.AddCounterCallback("apisix_mesh_agent_xds_nacks_total", "xDS responses rejected (NACK), wholly or in part.",
                       {"type"}, [types] { return types([](const auto& t) { return double(t.nacks); }); });
  r.AddGaugeCallback("apisix_mesh_agent_xds_resources", "xDS resources held, by type.", {"type"}, [this] {
    Samples out;
    if (const xds::AdsClient* ads = ads_.load()) {
      for (const auto& t : ads->GetStatus().types) out.push_back({{ShortType(t.type)}, double(t.resources)});
    } else if (const xds::FileSource* files = files_.load()) {
      const xds::FileSourceSummary summary = files->Summary();
      for (const char* type : xds::kAdsTypes) {
        auto n = summary.resources.find(type);
        out.push_back({{ShortType(type)}, n == summary.resources.end() ? 0.0 : double(n->second)});
      }
    }
    return out;
  });
  r.AddCounterCallback("apisix_mesh_agent_xds_reconnects_total", "ADS streams opened after the first.", {}, [this] {
    const xds::AdsClient* ads = ads_.load();
    return ads ? Samples{{{}, double(std::max(0, ads->streams_opened() - 1))}} : Samples{};
  });
  r.AddGaugeCallback("apisix_mesh_agent_xds_connected", "1 while an ADS stream to the control plane is open.", {},
                     [this] {
                       const xds::AdsClient* ads = ads_.load();
                       return ads ? Samples{{{}, ads->GetStatus().connected ? 1.0 : 0.0}} : Samples{};
                     });
  // Translation.
  r.AddCounterCallback("apisix_mesh_agent_xds_applies_total", "xDS updates translated and applied.", {},
                       [this] { return Samples{{{}, double(reconciler_.last().applies)}}; });
  r.AddGaugeCallback("apisix_mesh_agent_translated_objects", "APISIX objects translated from xDS, by kind.", {"kind"},
                     [this] {
                       const reconcile::ApplyStats s = reconciler_.last();
                       return Samples{{{"route"}, double(s.routes)},
                                      {{"upstream"}, double(s.upstreams)},
                                      {{"stream_route"}, double(s.stream_routes)}};
                     });
  r.AddGaugeCallback("apisix_mesh_agent_translation_skipped",
                     "xDS features the configuration uses that APISIX cannot express, by resource kind.", {"resource"},
                     [this] {
                       std::map<std::string, double> by_kind;
                       for (const std::string& line : reconciler_.Skipped()) by_kind[line.substr(0, line.find(' '))] += 1;
                       Samples out;
                       for (const auto& [kind, n] : by_kind) out.push_back({{kind}, n});
                       return out;
                     });
  // The store and the etcd API.
  r.AddGaugeCallback("apisix_mesh_agent_store_revision", "The etcd revision served.", {},
                     [this] { return Samples{{{}, double(store_.current_revision())}}; });
  r.AddGaugeCallback("apisix_mesh_agent_store_compacted_revision", "The oldest revision still readable (0: none).", {},
                     [this] { return Samples{{{}, double(store_.compacted_revision())}}; });
  r.AddGaugeCallback("apisix_mesh_agent_store_keys", "Keys in the store (APISIX objects, placeholders, clients' keys).",
                     {}, [this] { return Samples{{{}, double(store_.sizes().keys)}}; });
  r.AddGaugeCallback("apisix_mesh_agent_store_history_bytes",
                     "Keys and values kept in the watch history (bounded by --max-history-bytes).", {},
                     [this] { return Samples{{{}, double(store_.sizes().history_bytes)}}; });
  r.AddGaugeCallback("apisix_mesh_agent_store_history_revisions", "Revisions kept in the watch history.", {},
                     [this] { return Samples{{{}, double(store_.sizes().history_revisions)}}; });
  // Watches (clients' watch streams: APISIX's workers over HTTP, etcd clients over gRPC).
  auto watches = [this](const std::function<Samples(const WatchSummary&)>& pick) {
    const etcd::WatchRegistry* registry = watches_.load();
    return registry ? pick(SummarizeWatches(*registry, store_.current_revision())) : Samples{};
  };
  r.AddGaugeCallback("apisix_mesh_agent_etcd_watch_streams", "Open watch streams (gRPC Watch calls, HTTP /v3/watch), by protocol.",
                     {"protocol"}, [watches] { return watches([](const WatchSummary& s) { return ByProtocol(s.streams); }); });
  r.AddGaugeCallback("apisix_mesh_agent_etcd_watchers", "Open etcd watches, by protocol.", {"protocol"},
                     [watches] { return watches([](const WatchSummary& s) { return ByProtocol(s.watchers); }); });
  r.AddGaugeCallback("apisix_mesh_agent_etcd_watchers_behind",
                     "Watches with events of their range not yet sent, by protocol.", {"protocol"},
                     [watches] { return watches([](const WatchSummary& s) { return ByProtocol(s.behind); }); });
  r.AddGaugeCallback("apisix_mesh_agent_etcd_watch_lag_revisions",
                     "Revisions between the store and the watch furthest behind (0: every watcher in sync).", {},
                     [watches] {
                       return watches([](const WatchSummary& s) { return Samples{{{}, double(s.max_lag)}}; });
                     });
  auto traffic = [this](uint64_t etcd::WatchTraffic::*field) {
    Samples out;
    if (const etcd::WatchRegistry* registry = watches_.load()) {
      for (etcd::WatchProtocol p : etcd::kWatchProtocols) {
        out.push_back({{std::string(etcd::ProtocolName(p))}, double(registry->traffic(p).*field)});
      }
    }
    return out;
  };
  r.AddCounterCallback("apisix_mesh_agent_etcd_watch_responses_sent_total",
                       "Watch responses sent (created, canceled, progress, events), by protocol.", {"protocol"},
                       [traffic] { return traffic(&etcd::WatchTraffic::responses); });
  r.AddCounterCallback("apisix_mesh_agent_etcd_watch_events_sent_total", "Watch events sent, by protocol.", {"protocol"},
                       [traffic] { return traffic(&etcd::WatchTraffic::events); });
  r.AddCounterCallback("apisix_mesh_agent_etcd_watch_bytes_sent_total",
                       "Bytes of watch responses sent: protobuf (gRPC) or JSON (HTTP), framing aside.", {"protocol"},
                       [traffic] { return traffic(&etcd::WatchTraffic::bytes); });
  etcd_requests_ = &r.AddCounter("apisix_mesh_agent_etcd_requests_total",
                                 "etcd API requests answered, by method, protocol (grpc, http) and code.",
                                 {"method", "protocol", "code"});
  etcd_seconds_ = &r.AddHistogram("apisix_mesh_agent_etcd_request_duration_seconds",
                                  "Time to answer an etcd API request, by method and protocol.",
                                  metrics::LatencyBuckets(), {"method", "protocol"});
}

void Observability::ObserveEtcd(absl::string_view method, absl::string_view protocol, absl::StatusCode code,
                                double seconds) {
  etcd_requests_->With({std::string(method), std::string(protocol), absl::StatusCodeToString(code)}).Inc();
  etcd_seconds_->With({std::string(method), std::string(protocol)}).Observe(seconds);
}

void Observability::SetXdsSource(const xds::AdsClient* ads, const xds::FileSource* files) {
  ads_ = ads;
  files_ = files;
}

absl::Status Observability::StartAdmin(const config::ListenAddress& listen, bool allow_remote) {
  admin::AdminSources sources;
  sources.metrics = &registry_;
  sources.config_dump = [this](const admin::DumpFilter& filter) { return ConfigDump(filter); };
  sources.syncz = [this] { return Syncz(); };
  admin_ = std::make_unique<admin::AdminServer>(std::move(sources), allow_remote);
  return admin_->Start(listen);
}

void Observability::Stop() {
  if (admin_) admin_->Stop();
}

nlohmann::json Observability::ConfigDump(const admin::DumpFilter& filter) const {
  xds::XdsDump xds;
  if (const xds::AdsClient* ads = ads_.load()) {
    xds = ads->Dump();
  } else if (const xds::FileSource* files = files_.load()) {
    xds = files->Dump();
  }
  const std::map<std::string, std::string> sources = reconciler_.Sources();
  std::vector<admin::ServedObject> served;
  for (const char* dir : {"/routes/", "/upstreams/", "/stream_routes/"}) {
    store::RangeQuery query;
    query.range = store::KeyRange::Prefix(layout_.prefix() + dir);
    auto result = store_.Range(query);
    if (!result.ok()) continue;
    for (const auto& kv : result->kvs) {
      // Recorded only where the value's desc cannot say it (BuildConfigDump reads the desc).
      auto source = sources.find(kv.key);
      served.push_back({kv.key, kv.mod_revision, kv.value, source == sources.end() ? "" : source->second});
    }
  }
  return admin::BuildConfigDump(xds, served, reconciler_.Skipped(), store_.current_revision(), filter);
}

nlohmann::json Observability::Syncz() const {
  nlohmann::json out;
  nlohmann::json x;
  if (const xds::AdsClient* ads = ads_.load()) {
    const xds::AdsClient::Status s = ads->GetStatus();
    x["provisioner"] = "xds-v3-grpc";
    x["control_plane"] = s.control_plane;
    x["protocol"] = s.protocol;
    x["connected"] = s.connected;
    if (s.connected) {
      x["stream_since"] = Rfc3339(s.stream_since);
      x["stream_age_seconds"] = std::chrono::duration<double>(std::chrono::system_clock::now() - s.stream_since).count();
    }
    x["reconnects"] = std::max(0, s.streams_opened - 1);
    nlohmann::json types = nlohmann::json::array();
    for (const auto& t : s.types) {
      nlohmann::json j = {{"type", t.type},         {"resources", t.resources}, {"responses", t.responses},
                          {"acks", t.acks},         {"nacks", t.nacks},         {"accepted_version", t.accepted_version},
                          {"last_nonce", t.last_nonce}, {"warming", t.pending}};
      j[t.wildcard ? "subscription" : "subscribed_names"] =
          t.wildcard ? nlohmann::json("wildcard") : nlohmann::json(t.subscribed_names);
      if (auto when = Rfc3339(t.last_response); !when.empty()) j["last_response"] = when;
      if (!t.last_nack.empty()) j["last_nack"] = {{"error_detail", t.last_nack}, {"time", Rfc3339(t.last_nack_time)}};
      types.push_back(std::move(j));
    }
    x["types"] = std::move(types);
  } else if (const xds::FileSource* files = files_.load()) {
    const xds::FileSourceSummary summary = files->Summary();
    x["provisioner"] = "xds-v3-file";
    x["files"] = summary.files;
    nlohmann::json types = nlohmann::json::array();
    for (const char* type : xds::kAdsTypes) {
      auto n = summary.resources.find(type);
      types.push_back({{"type", type}, {"resources", n == summary.resources.end() ? 0 : n->second}});
    }
    x["types"] = std::move(types);
  }
  out["xds"] = std::move(x);
  const reconcile::ApplyStats last = reconciler_.last();
  const int64_t current = store_.current_revision();
  nlohmann::json etcd = {{"revision", current},
                         {"compacted_revision", store_.compacted_revision()},
                         {"last_apply_revision", last.revision},
                         {"applies", last.applies}};
  if (const etcd::WatchRegistry* registry = watches_.load()) {
    // Every stream and watcher, with the revision each has been sent: "APISIX is behind" shows
    // as a watcher whose sent_revision trails `revision`. Listed up to kMaxListed streams.
    constexpr size_t kMaxListed = 256;
    const std::vector<etcd::WatchStreamStatus> streams = registry->Streams();
    nlohmann::json listed = nlohmann::json::array();
    std::map<std::string, size_t> watchers = {{"grpc", 0}, {"http", 0}};
    size_t behind = 0;
    for (const etcd::WatchStreamStatus& s : streams) {
      nlohmann::json ws = nlohmann::json::array();
      for (const etcd::WatcherStatus& w : s.watchers) {
        watchers[std::string(etcd::ProtocolName(s.protocol))] += 1;
        behind += w.pending;
        ws.push_back({{"watch_id", w.id}, {"key", w.key}, {"range_end", w.range_end},
                      {"sent_revision", w.sent_revision}, {"in_sync", !w.pending}});
      }
      if (listed.size() < kMaxListed) {
        listed.push_back({{"protocol", etcd::ProtocolName(s.protocol)}, {"peer", s.peer},
                          {"opened", Rfc3339(s.opened)}, {"watchers", std::move(ws)}});
      }
    }
    etcd["watchers"] = watchers;
    etcd["watchers_behind"] = behind;
    etcd["watch_streams"] = std::move(listed);
    if (streams.size() > kMaxListed) etcd["watch_streams_not_listed"] = streams.size() - kMaxListed;
  }
  out["etcd"] = std::move(etcd);
  if (const sink::EtcdSink* sink = sink_.load()) {
    const sink::EtcdSink::Status s = sink->GetStatus();
    out["etcd_sink"] = {{"role", sink::EtcdSink::RoleName(s.role)},
                        {"in_sync", s.synced},
                        {"endpoint", s.endpoint},
                        {"written_revision", s.local_revision},
                        {"cluster_revision", s.etcd_revision},
                        {"transactions", s.transactions},
                        {"repairs", s.repairs},
                        {"repair_operations", s.repair_ops},
                        {"resumes", s.resumes},
                        {"pending_changes", s.pending},
                        {"owned_keys", s.owned},
                        {"too_large_to_write", s.unwritable},
                        {"last_error", s.last_error}};
  }
  out["translation"] = {{"routes", last.routes},
                        {"upstreams", last.upstreams},
                        {"stream_routes", last.stream_routes},
                        {"skipped", reconciler_.Skipped().size()}};
  return out;
}

}  // namespace agent::cli
