// The gateway's hand-written JSON encoders against protobuf's printer, which they must match byte
// for byte: the input is a RangeResponse or WatchResponse in the gateway's JSON (first byte
// picks which), parsed by the gateway's own parser, then printed both ways.
#include <string>

#include "absl/strings/string_view.h"
#include "etcd/gateway_json.h"
#include "etcd/gateway_json_fast.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    etcdserverpb::WatchResponse watch;
    if (!agent::etcd::FromGatewayJson(json, &watch).ok()) return 0;
    if (auto fast = agent::etcd::WatchResponseJson(watch)) {
      FuzzCheck(*fast == agent::etcd::ToGatewayJson(watch), "WatchResponseJson matches protobuf's printer");
    }
  } else {
    etcdserverpb::RangeResponse range;
    if (!agent::etcd::FromGatewayJson(json, &range).ok()) return 0;
    FuzzCheck(agent::etcd::RangeResponseJson(range) == agent::etcd::ToGatewayJson(range),
              "RangeResponseJson matches protobuf's printer");
  }
  return 0;
}
