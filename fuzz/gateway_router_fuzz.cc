// The HTTP/JSON gateway's router and every unary handler behind it, as one request
// "METHOD TARGET\nBODY" (the golden captures' format) against one store that keeps the state of
// earlier inputs. Properties: no crash; every reply is a valid status with a body; a JSON reply
// is valid UTF-8 JSON (issue 12's first probe: one invalid byte aborted the agent).
#include <string>

#include <nlohmann/json.hpp>

#include "etcd/etcd_api.h"
#include "etcd/gateway_router.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static agent::store::KvStore store;
  static agent::etcd::EtcdApi api(store, agent::etcd::ClusterIdentity::ForClientUrl("http://127.0.0.1:2379"), {});
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t line_end = input.find('\n');
  const std::string line = input.substr(0, line_end);
  const std::string body = line_end == std::string::npos ? std::string() : input.substr(line_end + 1);
  const size_t space = line.find(' ');
  const std::string method = line.substr(0, space);
  const std::string target = space == std::string::npos ? "/" : line.substr(space + 1);

  auto reply = agent::etcd::HandleUnaryRequest(api, method, target, "", body);
  if (!reply) return 0;  // POST /v3/watch: the transport's own stream
  FuzzCheck(reply->status >= 200 && reply->status < 600, "an HTTP status");
  if (reply->content_type == "application/json" && !reply->chunked) {
    FuzzCheck(nlohmann::json::accept(reply->body), "a JSON reply parses as JSON");
  }
  return 0;
}
