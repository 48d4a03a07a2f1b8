// The etcd-side load client of scripts/bench, run the same way against the agent and a real etcd:
//   etcd_bench load ENDPOINT PREFIX COUNT SIZE          puts COUNT keys PREFIX<i> of SIZE bytes
//   etcd_bench grpc-range ENDPOINT KEY STREAMS SECONDS [PID]
//                                                        Range of one key from STREAMS concurrent
//                                                        callers on one channel → "rps <n>"; with
//                                                        the server's PID also its CPU time per call
//                                                        ("cpu_us_per_call <n>"), which does not
//                                                        depend on how client and server share cores
//   etcd_bench watch-fanout ENDPOINT WATCHERS WRITES    WATCHERS HTTP watches on /apisix/, WRITES
//                                                        puts → "p50_ms p99_ms all_p50_ms"
//   etcd_bench watch-memory ENDPOINT PID WATCHERS        RSS of PID before/after WATCHERS idle HTTP
//                                                        watches → "bytes_per_watch <n>"
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <grpcpp/create_channel.h>

#include "bench/http_watchers.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace {

using agent::bench::HttpWatchers;
using Clock = std::chrono::steady_clock;

std::unique_ptr<etcdserverpb::KV::Stub> Kv(const std::string& endpoint) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  return etcdserverpb::KV::NewStub(grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args));
}

bool Put(etcdserverpb::KV::Stub& kv, const std::string& key, const std::string& value) {
  grpc::ClientContext context;
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  etcdserverpb::PutResponse response;
  const grpc::Status status = kv.Put(&context, request, &response);
  if (!status.ok()) std::cerr << "put " << key << ": " << status.error_message() << "\n";
  return status.ok();
}

long RssBytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  }
  return -1;
}

// User + system CPU time the process has used, in seconds (/proc/PID/stat fields 14 and 15).
double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

std::pair<std::string, int> HostPort(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  return {endpoint.substr(0, colon), std::stoi(endpoint.substr(colon + 1))};
}

int Load(const std::string& endpoint, const std::string& prefix, int count, int size) {
  auto kv = Kv(endpoint);
  for (int i = 0; i < count; ++i) {
    std::string value = "{\"id\":\"" + std::to_string(i) + "\",\"uri\":\"/bench/" + std::to_string(i) +
                        "\",\"upstream\":{\"type\":\"roundrobin\",\"nodes\":{\"10.0.0.1:80\":1}},\"desc\":\"";
    value.resize(std::max<size_t>(value.size(), size - 2), 'x');
    value += "\"}";
    if (!Put(*kv, prefix + std::to_string(i), value)) return 1;
  }
  std::cout << "loaded " << count << " keys\n";
  return 0;
}

int GrpcRange(const std::string& endpoint, const std::string& key, int streams, int seconds, int server_pid) {
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int i = 0; i < streams; ++i) {
    callers.emplace_back([&] {
      auto kv = etcdserverpb::KV::NewStub(channel);
      etcdserverpb::RangeRequest request;
      request.set_key(key);
      while (!stop) {
        grpc::ClientContext context;
        etcdserverpb::RangeResponse response;
        if (kv->Range(&context, request, &response).ok() && response.kvs_size() == 1) ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm up
  const long start = done;
  const double cpu0 = server_pid > 0 ? CpuSeconds(server_pid) : 0;
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const long end = done;
  const double cpu = server_pid > 0 ? CpuSeconds(server_pid) - cpu0 : 0;
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  for (auto& t : callers) t.join();
  std::cout << "rps " << static_cast<long>((end - start) / elapsed);
  if (server_pid > 0) std::cout << " cpu_us_per_call " << cpu * 1e6 / static_cast<double>(end - start);
  std::cout << "\n";
  return 0;
}

int WatchFanout(const std::string& endpoint, int count, int writes) {
  auto [host, port] = HostPort(endpoint);
  HttpWatchers watchers;
  if (!watchers.Open(host, port, "/apisix/", "/apisix0", count)) {
    std::cerr << "could not open " << count << " watches\n";
    return 1;
  }
  auto kv = Kv(endpoint);
  std::vector<double> each, all;
  for (int i = 0; i < writes; ++i) {
    const auto t0 = Clock::now();
    if (!Put(*kv, "/apisix/routes/fanout", std::to_string(i))) return 1;
    auto arrived = watchers.AwaitEvent(std::chrono::seconds(10));
    double slowest = 0;
    for (auto t : arrived) {
      if (t == Clock::time_point{}) {
        std::cerr << "a watcher missed write " << i << "\n";
        return 1;
      }
      const double ms = std::chrono::duration<double, std::milli>(t - t0).count();
      each.push_back(ms);
      slowest = std::max(slowest, ms);
    }
    all.push_back(slowest);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cout << "p50_ms " << Percentile(each, 0.5) << " p99_ms " << Percentile(each, 0.99) << " all_p50_ms "
            << Percentile(all, 0.5) << "\n";
  return 0;
}

int WatchMemory(const std::string& endpoint, int pid, int count) {
  auto [host, port] = HostPort(endpoint);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long before = RssBytes(pid);
  HttpWatchers watchers;
  if (!watchers.Open(host, port, "/apisix/", "/apisix0", count)) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long after = RssBytes(pid);
  std::cout << "bytes_per_watch " << (after - before) / count << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "load" && argc == 6) return Load(argv[2], argv[3], std::stoi(argv[4]), std::stoi(argv[5]));
  if (mode == "grpc-range" && (argc == 6 || argc == 7)) {
    return GrpcRange(argv[2], argv[3], std::stoi(argv[4]), std::stoi(argv[5]), argc == 7 ? std::stoi(argv[6]) : 0);
  }
  if (mode == "watch-fanout" && argc == 5) return WatchFanout(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
  if (mode == "watch-memory" && argc == 5) return WatchMemory(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
  std::cerr << "usage: see the comment at the top of bench/etcd_bench.cc\n";
  return 2;
}
