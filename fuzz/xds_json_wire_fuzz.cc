// The xds-v3-file fast JSON reader (xds/json_wire.h) against protobuf's JSON parser, which it
// must agree with wherever it takes a document: protobuf reads it too, into an equal message
// (Anys compared unpacked), with the same unknown types.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/string_view.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "fuzz_target.h"
#include "xds/discovery_json.h"
#include "xds/json_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> unknown;
  std::optional<std::string> wire =
      agent::xds::JsonToWire(json, envoy::service::discovery::v3::DiscoveryResponse::descriptor(), &unknown);
  envoy::service::discovery::v3::DiscoveryResponse fast;
  if (!wire || !fast.ParseFromString(*wire)) return 0;
  agent::xds::DecodeReport report;
  auto reference = agent::xds::ParseDiscoveryResponseWithProtobuf(json, &report);
  if (!reference.ok()) std::fprintf(stderr, "protobuf: %s\n", std::string(reference.status().message()).c_str());
  FuzzCheck(reference.ok(), "protobuf's parser reads what the fast reader took");
  FuzzCheck(google::protobuf::util::MessageDifferencer::Equals(fast, *reference),
            "the fast reader's message equals protobuf's");
  std::sort(unknown.begin(), unknown.end());
  std::sort(report.unknown_types.begin(), report.unknown_types.end());
  if (unknown != report.unknown_types) {
    for (const std::string& url : unknown) std::fprintf(stderr, "fast reader: %s\n", url.c_str());
    for (const std::string& url : report.unknown_types) std::fprintf(stderr, "protobuf: %s\n", url.c_str());
  }
  FuzzCheck(unknown == report.unknown_types, "the same unknown types");
  return 0;
}
