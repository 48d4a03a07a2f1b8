// Decodes a JSON DiscoveryResponse (the xds-v3-file format) into typed resources.
#pragma once

#include "absl/strings/string_view.h"
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/resource_snapshot.h"

namespace agent::xds {

struct DecodeReport {
  // Type URLs of `Any`s the agent has no definition for, at any depth; those parts were dropped.
  std::vector<std::string> unknown_types;
  // Resources not taken: "<type or name>: <reason>".
  std::vector<std::string> skipped_resources;
};

// Fails (with the parser's reason) only when the document as a whole is unusable: not JSON, not a
// DiscoveryResponse. A resource of an unknown or unused type is reported, not fatal.
// Most documents are read by the agent's own JSON reader (json_wire.h); what it declines, and every
// error, is protobuf's JSON parser's.
absl::StatusOr<ResourceSnapshot> DecodeDiscoveryResponseJson(absl::string_view json, DecodeReport* report);

// The document as protobuf's JSON parser reads it (ignoring unknown fields; an Any of a type the
// agent does not know replaced by a Struct naming it): the reference the fast reader is held to.
absl::StatusOr<envoy::service::discovery::v3::DiscoveryResponse> ParseDiscoveryResponseWithProtobuf(
    absl::string_view json, DecodeReport* report);

}  // namespace agent::xds
