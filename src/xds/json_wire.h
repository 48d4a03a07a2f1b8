// protobuf's JSON mapping read straight into wire bytes, for the shapes xDS files use.
//
// At mesh scale the xds-v3-file start-up is mostly protobuf's JSON parser (its type-resolver
// stream writer: ~2/3 of the instructions of loading 1,000 services). This reader walks the text
// once with the message descriptors in hand and writes each field's wire encoding as it reads it:
// no DOM, no type resolver, no intermediate messages.
//
// It takes only what it is sure of. Anything it does not handle exactly as protobuf's parser does
// (with ignore_unknown_fields) — invalid JSON, a non-ASCII string, an Any whose "@type" is not its
// first key, a Timestamp or FieldMask, an unknown enum name, a field given twice, two members of a
// oneof, numbers out of range — answers nullopt, and the caller parses the document with protobuf's
// parser, which also words the error. Where it answers, the bytes decode to the message protobuf's
// parser makes of the same text (tests/xds/json_wire_test.cc over the corpus; the xds_json_wire
// fuzz target against protobuf's parser).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include <google/protobuf/descriptor.h>

namespace agent::xds {

// Whether the agent has a definition for the type an Any's URL names (by the name after the last
// '/', as the careful path of discovery_json.cc decides which Anys to replace).
bool IsKnownTypeUrl(absl::string_view type_url);

// The wire bytes of a `type` read from `json`. An Any naming a type the generated pool does not
// know becomes a google.protobuf.Struct {"unknown_type_url": <url>} (as the careful path in
// discovery_json.cc makes it), and its URL is appended to `unknown_types`. When it declines,
// `declined_at` (if given) is the offset it had read to: for tests that say why.
std::optional<std::string> JsonToWire(absl::string_view json, const google::protobuf::Descriptor* type,
                                      std::vector<std::string>* unknown_types, size_t* declined_at = nullptr);

}  // namespace agent::xds
