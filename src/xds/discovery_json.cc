#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "xds/discovery_json.h"

#include <algorithm>

#include "common/json_nesting.h"

#include <set>
#include <type_traits>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "nlohmann/json.hpp"
#include "xds/json_wire.h"

namespace agent::xds {
namespace {

constexpr char kTypeKey[] = "@type";
constexpr char kStructType[] = "type.googleapis.com/google.protobuf.Struct";

// protobuf's JSON parser rejects a whole message when an Any names a type it cannot resolve (Istio
// puts Wasm and istio.* filters in typed_config). Such an Any becomes an empty Struct that keeps
// the original type URL, so the rest of the document still parses and logs can name what was dropped.
void ReplaceUnknownAnys(nlohmann::json& node, std::vector<std::string>& unknown) {
  if (node.is_array()) {
    for (auto& element : node) ReplaceUnknownAnys(element, unknown);
    return;
  }
  if (!node.is_object()) return;
  auto type = node.find(kTypeKey);
  if (type != node.end() && type->is_string() && !IsKnownTypeUrl(type->get<std::string>())) {
    std::string url = type->get<std::string>();
    unknown.push_back(url);
    node = nlohmann::json{{kTypeKey, kStructType}, {"value", {{"unknown_type_url", url}}}};
    return;
  }
  for (auto& [key, value] : node.items()) ReplaceUnknownAnys(value, unknown);
}

// Whether every "@type" in the text names a type the agent knows: then protobuf's parser can take
// the document as it is, without the DOM pass that replaces unknown Anys (which at mesh scale
// costs more time and memory than the parse itself). Anything unexpected answers false.
bool AllTypesKnown(absl::string_view json) {
  std::set<absl::string_view> checked;
  constexpr absl::string_view kKey = "\"@type\"";
  for (size_t at = json.find(kKey); at != absl::string_view::npos; at = json.find(kKey, at + kKey.size())) {
    size_t i = at + kKey.size();
    auto skip_space = [&] {
      while (i < json.size() && (json[i] == ' ' || json[i] == '\n' || json[i] == '\t' || json[i] == '\r')) ++i;
    };
    skip_space();
    if (i >= json.size() || json[i] != ':') return false;
    ++i;
    skip_space();
    if (i >= json.size() || json[i] != '"') return false;
    const size_t end = json.find('"', i + 1);
    if (end == absl::string_view::npos) return false;
    const absl::string_view url = json.substr(i + 1, end - i - 1);
    if (url.find('\\') != absl::string_view::npos) return false;
    if (checked.insert(url).second && !IsKnownTypeUrl(url)) return false;
  }
  return true;
}

// Keeps the resource's bytes as the JSON parser serialized them, under the name read off them (a
// resource is decoded where it is translated, not here). Returns false when they do not decode.
template <typename Message>
bool InsertPacked(std::map<std::string, Packed<Message>>& into, google::protobuf::Any& any, DecodeReport& report) {
  constexpr bool kIsAssignment = std::is_same_v<Message, envoy::config::endpoint::v3::ClusterLoadAssignment>;
  std::optional<std::string> name = WireStringField(any.value(), 1);  // name; a CLA's cluster_name
  if (!name) return false;
  if (name->empty()) {
    report.skipped_resources.push_back(kIsAssignment ? "ClusterLoadAssignment: resource without a cluster_name"
                                                     : absl::StrCat(Message::descriptor()->full_name(),
                                                                    ": resource without a name"));
    return true;
  }
  if (!kIsAssignment && into.count(*name) > 0) {
    report.skipped_resources.push_back(
        absl::StrCat(Message::descriptor()->full_name(), " ", *name, ": duplicate name, the later one is used"));
  }
  into.insert_or_assign(*std::move(name), Packed<Message>::FromBytes(std::move(*any.mutable_value())));
  return true;
}

// How deeply objects and arrays nest, strings skipped: the careful path's DOM, its destructor and
// the unknown-Any rewrite recurse, so a document nested 30,000 deep would overflow the stack.
size_t NestingDepth(absl::string_view json) {
  JsonNesting nesting;
  int deepest = 0;
  for (char c : json) deepest = std::max(deepest, nesting.Feed(c));
  return static_cast<size_t>(deepest);
}

// Protobuf's JSON parser ignores what follows the document; a file with a "\0garbage" tail (a
// half-written or concatenated file) must be refused, not half-read.
absl::Status CheckNothingFollows(absl::string_view json) {
  size_t i = 0;
  while (i < json.size() && absl::ascii_isspace(static_cast<unsigned char>(json[i]))) ++i;
  if (i == json.size() || json[i] != '{') return absl::OkStatus();  // the parsers say what is wrong
  JsonNesting nesting;
  while (i < json.size() && nesting.Feed(json[i]) > 0) ++i;
  if (i == json.size()) return absl::OkStatus();  // unterminated: the parsers say so
  for (size_t rest = i + 1; rest < json.size(); ++rest) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(json[rest]))) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected bytes after the JSON document, at offset ", rest));
    }
  }
  return absl::OkStatus();
}

// Protobuf's JSON parser stops at the same depth; real xDS nests a few dozen levels.
constexpr size_t kMaxNestingDepth = 100;

}  // namespace

absl::StatusOr<envoy::service::discovery::v3::DiscoveryResponse> ParseDiscoveryResponseWithProtobuf(
    absl::string_view json, DecodeReport* report) {
  if (absl::Status tail = CheckNothingFollows(json); !tail.ok()) return tail;
  envoy::service::discovery::v3::DiscoveryResponse response;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (AllTypesKnown(json) &&
      google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), &response,
                                                  options)
          .ok()) {
    return response;
  }
  // The careful path: unknown Anys replaced, and JSON errors with the position and reason.
  response.Clear();
  if (const size_t depth = NestingDepth(json); depth > kMaxNestingDepth) {
    return absl::InvalidArgumentError(absl::StrCat("objects and arrays nest ", depth, " levels deep; at most ",
                                                   kMaxNestingDepth, " are accepted"));
  }
  nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    // Re-parse with exceptions only on the error path, for the parser's position and reason.
    try {
      auto reparsed = nlohmann::json::parse(json);
      (void)reparsed;
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
    }
    return absl::InvalidArgumentError("not valid JSON");
  }
  if (!document.is_object()) return absl::InvalidArgumentError("not a DiscoveryResponse: the document is not a JSON object");
  ReplaceUnknownAnys(document, report->unknown_types);
  auto status = google::protobuf::util::JsonStringToMessage(document.dump(), &response, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a DiscoveryResponse: ", status.message().as_string()));
  }
  return response;
}

namespace {

absl::StatusOr<envoy::service::discovery::v3::DiscoveryResponse> ParseResponse(absl::string_view json,
                                                                               DecodeReport* report) {
  // The fast path: the text read straight into wire bytes (json_wire.h). It declines what it does
  // not read exactly as protobuf's parser would; protobuf's parser then reads it, or says why not.
  envoy::service::discovery::v3::DiscoveryResponse response;
  std::vector<std::string> unknown;
  if (std::optional<std::string> wire = JsonToWire(json, response.GetDescriptor(), &unknown);
      wire && response.ParseFromString(*wire)) {
    report->unknown_types.insert(report->unknown_types.end(), std::make_move_iterator(unknown.begin()),
                                 std::make_move_iterator(unknown.end()));
    return response;
  }
  return ParseDiscoveryResponseWithProtobuf(json, report);
}

}  // namespace

absl::StatusOr<ResourceSnapshot> DecodeDiscoveryResponseJson(absl::string_view json, DecodeReport* report) {
  auto parsed = ParseResponse(json, report);
  if (!parsed.ok()) return parsed.status();
  envoy::service::discovery::v3::DiscoveryResponse& response = *parsed;
  ResourceSnapshot snapshot;
  for (google::protobuf::Any& any : *response.mutable_resources()) {
    const std::string& type = any.type_url();
    bool ok = true;
    if (type == kListenerType) {
      ok = InsertPacked(snapshot.listeners, any, *report);
    } else if (type == kRouteConfigurationType) {
      ok = InsertPacked(snapshot.route_configurations, any, *report);
    } else if (type == kClusterType) {
      ok = InsertPacked(snapshot.clusters, any, *report);
    } else if (type == kClusterLoadAssignmentType) {
      ok = InsertPacked(snapshot.cluster_load_assignments, any, *report);
    } else {
      report->skipped_resources.push_back(absl::StrCat(type, ": resource type not used by the agent"));
    }
    if (!ok) report->skipped_resources.push_back(absl::StrCat(type, ": payload does not decode"));
  }
  return snapshot;
}

}  // namespace agent::xds
