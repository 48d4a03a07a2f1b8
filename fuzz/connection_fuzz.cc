// What a client's bytes meet on the etcd port: the one-port sniffer's choice, then (for HTTP/1.1)
// Beast's parser with the gateway's limits, the router, and — for /v3/watch — the watch body's
// requests run through a WatchStream. Properties: no crash; the sniffer decides on three bytes.
#include <string>
#include <vector>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include "etcd/etcd_api.h"
#include "etcd/first_bytes.h"
#include "etcd/gateway_json.h"
#include "etcd/gateway_router.h"
#include "etcd/watch_stream.h"
#include "fuzz_target.h"

namespace http = boost::beast::http;

namespace {

agent::etcd::EtcdApiOptions SmallRequests() {
  agent::etcd::EtcdApiOptions options;
  options.max_request_bytes = 64 * 1024;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static agent::store::KvStore store;
  static agent::etcd::EtcdApi api(store, agent::etcd::ClusterIdentity::ForClientUrl("http://127.0.0.1:2379"),
                                  SmallRequests());
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto kind = agent::etcd::ClassifyFirstBytes(bytes.substr(0, 3));
  FuzzCheck(size >= 3 || kind != agent::etcd::FirstBytes::kGrpc, "gRPC is chosen on three bytes");
  if (kind != agent::etcd::FirstBytes::kHttp) return 0;

  http::request_parser<http::string_body> parser;
  parser.body_limit(api.max_request_bytes() + 64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  const auto& request = parser.get();
  const std::string method(request.method_string());
  const std::string target(request.target());
  auto reply = agent::etcd::HandleUnaryRequest(api, method, target, "", request.body());
  if (reply) return 0;

  std::vector<absl::string_view> objects;
  if (!agent::etcd::SplitJsonObjects(request.body(), objects)) return 0;
  agent::etcd::WatchStream stream(store, api.identity(), [] {}, api.WatchContext(agent::etcd::WatchProtocol::kHttp, "fuzz"));
  for (absl::string_view object : objects) {
    etcdserverpb::WatchRequest watch;
    if (!agent::etcd::FromGatewayJson(object, &watch).ok()) return 0;
    stream.Handle(watch);
  }
  for (int i = 0; i < 1000 && stream.Next(); ++i) {
  }
  return 0;
}
