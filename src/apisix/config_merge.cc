#include "apisix/config_merge.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace agent::apisix {

namespace {

// Which flag governs each key the agent renders (the longest matching prefix wins).
std::string GovernedBy(const std::string& path) {
  static const std::pair<const char*, const char*> kFlags[] = {
      {"apisix.node_listen", "--apisix-port and --apisix-inbound-capture-port"},
      {"apisix.enable_admin", "bundle mode (the configuration comes from xDS, not the Admin API)"},
      {"apisix.ssl", "bundle mode"},
      {"nginx_config.error_log", "bundle mode (the agent reads APISIX's error log)"},
      {"nginx_config.http.access_log", "--apisix-access-log"},
      {"nginx_config.user", "--apisix-user"},
      {"apisix.proxy_mode", "--mesh-front"},
      {"apisix.stream_proxy", "--mesh-front"},
      {"apisix.proxy_protocol", "--mesh-front"},
      {"nginx_config.stream_configuration_snippet", "--mesh-front"},
      {"nginx_config.http.real_ip_header", "--mesh-front (the client's address comes in the front's PROXY header)"},
      {"nginx_config.http.real_ip_from", "--mesh-front (the client's address comes in the front's PROXY header)"},
      {"deployment", "--grpc-listen, --etcd-key-prefix and --etcd-user (the agent is APISIX's etcd)"},
      {"etcd", "--grpc-listen, --etcd-key-prefix and --etcd-user (the agent is APISIX's etcd)"},
  };
  for (const auto& [prefix, flag] : kFlags) {
    if (path == prefix || absl::StartsWith(path, absl::StrCat(prefix, "."))) return flag;
  }
  return "bundle mode";
}

std::string Show(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

void MergeInto(YAML::Node& out, const YAML::Node& required, const std::string& path, std::vector<std::string>* conflicts) {
  for (const auto& item : required) {
    const std::string key = item.first.as<std::string>();
    const std::string at = path.empty() ? key : absl::StrCat(path, ".", key);
    const YAML::Node& ours = item.second;
    YAML::Node theirs = out[key];
    if (!theirs || theirs.IsNull()) {
      out[key] = YAML::Clone(ours);
      continue;
    }
    if (ours.IsMap() && theirs.IsMap()) {
      MergeInto(theirs, ours, at, conflicts);
      continue;
    }
    if ((at == "plugins" || at == "stream_plugins") && ours.IsSequence() && theirs.IsSequence()) {
      YAML::Node merged(YAML::NodeType::Sequence);
      std::vector<std::string> seen;
      for (const YAML::Node* list : {&ours, static_cast<const YAML::Node*>(&theirs)}) {
        for (const auto& plugin : *list) {
          const std::string name = plugin.as<std::string>();
          if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
          seen.push_back(name);
          merged.push_back(name);
        }
      }
      out[key] = merged;
      continue;
    }
    if (absl::EndsWith(key, "_snippet") && ours.IsScalar() && theirs.IsScalar()) {
      std::string text = theirs.as<std::string>();
      if (!text.empty() && text.back() != '\n') text += '\n';
      out[key] = absl::StrCat(text, ours.as<std::string>());
      continue;
    }
    if (Show(theirs) != Show(ours)) {
      conflicts->push_back(absl::StrCat(at, ": the operator's ", Show(theirs), " is replaced by ", Show(ours),
                                        ", which ", GovernedBy(at), " sets"));
    }
    out[key] = YAML::Clone(ours);
  }
}

// Block style throughout; multi-line strings as literal blocks (what APISIX's snippets look like
// in its own docs), quoted scalars kept quoted so "1234" stays a string.
void Emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& item : node) {
        out << YAML::Key;
        Emit(out, item.first);
        out << YAML::Value;
        Emit(out, item.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& element : node) Emit(out, element);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar: {
      const std::string value = node.Scalar();
      if (value.find('\n') != std::string::npos) {
        out << YAML::Literal << value;
      } else if (node.Tag() == "!") {
        out << YAML::DoubleQuoted << value;
      } else {
        out << value;
      }
      break;
    }
    default:
      out << YAML::Null;
  }
}

}  // namespace

absl::StatusOr<std::string> MergeApisixConfig(const std::string& required, const std::string& base,
                                              const std::string& header, std::vector<std::string>* conflicts) {
  YAML::Node ours, theirs;
  try {
    ours = YAML::Load(required);
  } catch (const YAML::Exception& e) {
    return absl::InternalError(absl::StrCat("the agent's own APISIX configuration is not YAML: ", e.what()));
  }
  try {
    theirs = YAML::Load(base);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not YAML: ", e.what()));
  }
  if (theirs.IsNull()) theirs = YAML::Node(YAML::NodeType::Map);
  if (!theirs.IsMap()) return absl::InvalidArgumentError("not a YAML mapping (APISIX's config.yaml is one)");
  YAML::Node merged = YAML::Clone(theirs);
  try {
    MergeInto(merged, ours, "", conflicts);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot merge: ", e.what()));
  }
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  Emit(out, merged);
  if (!out.good()) return absl::InternalError(absl::StrCat("cannot write YAML: ", out.GetLastError()));
  return absl::StrCat(header, out.c_str(), "\n");
}

}  // namespace agent::apisix
