#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "xds/discovery_json.h"

#include <algorithm>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <type_traits>

#include "common/json_nesting.h"

#include <set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "nlohmann/json.hpp"

namespace agent::xds {
namespace {

constexpr char kTypeKey[] = "@type";
constexpr char kStructType[] = "type.googleapis.com/google.protobuf.Struct";

bool IsKnownType(absl::string_view type_url) {
  size_t slash = type_url.rfind('/');
  std::string name(slash == absl::string_view::npos ? type_url : type_url.substr(slash + 1));
  return google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(name) != nullptr;
}

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
  if (type != node.end() && type->is_string() && !IsKnownType(type->get<std::string>())) {
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
    if (checked.insert(url).second && !IsKnownType(url)) return false;
  }
  return true;
}

template <typename Message>
void Insert(std::map<std::string, Message>& into, Message message, DecodeReport& report) {
  std::string name = message.name();
  if (name.empty()) {
    report.skipped_resources.push_back(absl::StrCat(Message::descriptor()->full_name(), ": resource without a name"));
    return;
  }
  if (into.count(name) > 0) {
    report.skipped_resources.push_back(
        absl::StrCat(Message::descriptor()->full_name(), " ", name, ": duplicate name, the later one is used"));
  }
  into.insert_or_assign(std::move(name), std::move(message));
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

// Documents this large are parsed in parts, one per core.
constexpr size_t kParallelDecodeBytes = 1 << 20;

// Protobuf's JSON parser stops at the same depth; real xDS nests a few dozen levels.
constexpr size_t kMaxNestingDepth = 100;

absl::StatusOr<envoy::service::discovery::v3::DiscoveryResponse> ParseResponse(absl::string_view json,
                                                                               DecodeReport* report) {
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

}  // namespace

namespace {

// The typed resources of one parsed response (or one part of it), in document order.
ResourceSnapshot TypedResources(const envoy::service::discovery::v3::DiscoveryResponse& response,
                                DecodeReport& report) {
  ResourceSnapshot snapshot;
  for (const google::protobuf::Any& any : response.resources()) {
    const std::string& type = any.type_url();
    bool ok = true;
    if (type == kListenerType) {
      envoy::config::listener::v3::Listener m;
      if ((ok = any.UnpackTo(&m))) Insert(snapshot.listeners, std::move(m), report);
    } else if (type == kRouteConfigurationType) {
      envoy::config::route::v3::RouteConfiguration m;
      if ((ok = any.UnpackTo(&m))) Insert(snapshot.route_configurations, std::move(m), report);
    } else if (type == kClusterType) {
      envoy::config::cluster::v3::Cluster m;
      if ((ok = any.UnpackTo(&m))) Insert(snapshot.clusters, std::move(m), report);
    } else if (type == kClusterLoadAssignmentType) {
      envoy::config::endpoint::v3::ClusterLoadAssignment m;
      if ((ok = any.UnpackTo(&m))) {
        // A CLA is named by cluster_name.
        std::string name = m.cluster_name();
        if (name.empty()) {
          report.skipped_resources.push_back("ClusterLoadAssignment: resource without a cluster_name");
        } else {
          snapshot.cluster_load_assignments.insert_or_assign(std::move(name), std::move(m));
        }
      }
    } else {
      report.skipped_resources.push_back(absl::StrCat(type, ": resource type not used by the agent"));
    }
    if (!ok) report.skipped_resources.push_back(absl::StrCat(type, ": payload does not decode"));
  }
  return snapshot;
}

// A later part's resources after an earlier part's: a name both define resolves to the later one.
template <typename Map>
void Append(Map& into, Map& from, DecodeReport& report) {
  for (auto& [name, message] : from) {
    if (into.count(name) > 0 && !std::is_same_v<typename Map::mapped_type,
                                                envoy::config::endpoint::v3::ClusterLoadAssignment>) {
      report.skipped_resources.push_back(absl::StrCat(Map::mapped_type::descriptor()->full_name(), " ", name,
                                                      ": duplicate name, the later one is used"));
    }
    into.insert_or_assign(name, std::move(message));
  }
}

// The document's top-level "resources" array: where its contents start and end, and its elements.
struct ResourcesArray {
  size_t open = 0;   // the first byte after '['
  size_t close = 0;  // the ']'
  std::vector<absl::string_view> elements;
};

// Nothing when the document is not the plain shape this expects (then it is parsed whole).
std::optional<ResourcesArray> FindResources(absl::string_view json) {
  JsonNesting nesting;
  ResourcesArray array;
  std::vector<absl::string_view>& elements = array.elements;
  bool found = false;      // the array was seen (a second "resources" key sends the document whole)
  bool inside = false;     // in the array
  size_t string_start = 0;
  absl::string_view last_string;  // the last string at the top level: a key when ':' follows it
  char last_significant = 0;      // the last byte outside strings that is not white space
  size_t element_start = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    const bool was_in_string = nesting.in_string();
    const int depth = nesting.Feed(c);
    if (was_in_string || nesting.in_string()) {
      if (!inside && depth == 1 && !was_in_string) string_start = i + 1;
      if (!inside && depth == 1 && !nesting.in_string()) last_string = json.substr(string_start, i - string_start);
      continue;
    }
    if (inside) {
      if (depth == 2 && c == ',') {
        elements.push_back(json.substr(element_start, i - element_start));
        element_start = i + 1;
      } else if (depth == 1 && c == ']') {
        absl::string_view last = absl::StripAsciiWhitespace(json.substr(element_start, i - element_start));
        if (!last.empty()) elements.push_back(last);
        array.close = i;
        inside = false;
      }
    } else if (depth == 2 && c == '[' && last_significant == ':' && last_string == "resources") {
      if (found) return std::nullopt;
      found = inside = true;
      element_start = array.open = i + 1;
    }
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) last_significant = c;
  }
  if (!found || inside) return std::nullopt;
  return array;
}

// Parses the resources in `parts` pieces on as many threads; nothing when a piece does not parse.
std::optional<ResourceSnapshot> DecodeInParts(absl::string_view json, size_t parts, DecodeReport* report) {
  auto array = FindResources(json);
  if (!array || array->elements.size() < parts) return std::nullopt;
  // The rest of the document must parse too, as it would whole (its fields are not used).
  envoy::service::discovery::v3::DiscoveryResponse rest;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const std::string skeleton = absl::StrCat(json.substr(0, array->open), json.substr(array->close));
  if (!google::protobuf::util::JsonStringToMessage(skeleton, &rest, options).ok()) return std::nullopt;
  std::vector<std::string> documents(1, "{\"resources\":[");
  const size_t share = json.size() / parts + 1;
  for (absl::string_view element : array->elements) {
    std::string& doc = documents.back();
    if (doc.size() > share && documents.size() < parts) {
      doc += "]}";
      documents.emplace_back("{\"resources\":[");
    }
    std::string& into = documents.back();
    if (into.back() != '[') into += ',';
    into.append(element.data(), element.size());
  }
  documents.back() += "]}";
  struct Part {
    bool parsed = false;
    ResourceSnapshot resources;
    DecodeReport report;
  };
  auto decode = [&options](const std::string& document) {
    Part part;
    envoy::service::discovery::v3::DiscoveryResponse response;
    part.parsed = google::protobuf::util::JsonStringToMessage(document, &response, options).ok();
    if (part.parsed) part.resources = TypedResources(response, part.report);
    return part;
  };
  std::vector<std::future<Part>> pending;
  for (size_t i = 1; i < documents.size(); ++i) pending.push_back(std::async(std::launch::async, decode, std::cref(documents[i])));
  std::vector<Part> decoded;
  decoded.push_back(decode(documents[0]));
  for (auto& p : pending) decoded.push_back(p.get());
  ResourceSnapshot out;
  for (Part& part : decoded) {
    if (!part.parsed) return std::nullopt;
    Append(out.listeners, part.resources.listeners, *report);
    Append(out.route_configurations, part.resources.route_configurations, *report);
    Append(out.clusters, part.resources.clusters, *report);
    Append(out.cluster_load_assignments, part.resources.cluster_load_assignments, *report);
    for (auto& line : part.report.skipped_resources) report->skipped_resources.push_back(std::move(line));
    for (auto& type : part.report.unknown_types) report->unknown_types.push_back(std::move(type));
  }
  return out;
}

}  // namespace

absl::StatusOr<ResourceSnapshot> DecodeDiscoveryResponseJson(absl::string_view json, DecodeReport* report) {
  // A large document whose types are all known is parsed in parts, one per core: protobuf's JSON
  // parser is most of a mesh's start, and a mesh's files are few and large. Any part that does not
  // parse sends the whole document down the one-piece path, which names the error.
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (json.size() >= kParallelDecodeBytes && cores > 1 && CheckNothingFollows(json).ok() && AllTypesKnown(json)) {
    if (auto parts = DecodeInParts(json, std::min<size_t>(cores, 8), report)) return *std::move(parts);
  }
  auto parsed = ParseResponse(json, report);
  if (!parsed.ok()) return parsed.status();
  return TypedResources(*parsed, *report);
}

}  // namespace agent::xds
