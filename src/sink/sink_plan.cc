#include "sink/sink_plan.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace agent::sink {

absl::StatusOr<std::string> MarkOwned(absl::string_view value, absl::string_view owner) {
  // The agent's own encoder writes no labels: then the label is spliced in without a parse (at mesh
  // scale a repair marks every object). A value that has labels is merged properly.
  if (value.size() >= 2 && value.front() == '{' && value.back() == '}' && !absl::StrContains(value, "\"labels\"")) {
    const bool empty = value.find_first_not_of(" \t\r\n", 1) == value.size() - 1;
    return absl::StrCat("{\"labels\":{\"", kOwnerLabel, "\":\"", owner, "\"}", empty ? "" : ",", value.substr(1));
  }
  nlohmann::json object = nlohmann::json::parse(value, nullptr, false);
  if (!object.is_object()) return absl::InvalidArgumentError("the value is not a JSON object");
  nlohmann::json& labels = object["labels"];
  if (!labels.is_null() && !labels.is_object()) return absl::InvalidArgumentError("its labels are not an object");
  labels[kOwnerLabel] = std::string(owner);
  return object.dump();
}

bool OwnedBy(absl::string_view value, absl::string_view owner) {
  // Cheap refusal first: most values under a shared prefix are not ours at all.
  if (!absl::StrContains(value, kOwnerLabel)) return false;
  const nlohmann::json object = nlohmann::json::parse(value, nullptr, false);
  if (!object.is_object()) return false;
  const auto labels = object.find("labels");
  if (labels == object.end() || !labels->is_object()) return false;
  const auto label = labels->find(kOwnerLabel);
  return label != labels->end() && label->is_string() && label->get<std::string>() == owner;
}

std::vector<Op> Diff(const std::map<std::string, store::SharedValue>& desired,
                     const std::map<std::string, std::string>& actual) {
  std::vector<Op> ops;
  for (const auto& [key, value] : desired) {
    auto it = actual.find(key);
    if (it == actual.end() || it->second != value.str()) ops.push_back({key, value});
  }
  for (const auto& [key, value] : actual) {
    if (desired.count(key) == 0) ops.push_back({key, std::nullopt});
  }
  return ops;
}

std::vector<std::vector<Op>> Split(std::vector<Op> ops, size_t max_ops, absl::string_view upstream_dir) {
  std::vector<std::vector<Op>> batches;
  if (ops.empty()) return batches;
  max_ops = std::max<size_t>(max_ops, 1);
  if (ops.size() <= max_ops) {
    batches.push_back(std::move(ops));
    return batches;
  }
  const auto phase = [&](const Op& op) {
    const bool upstream = absl::StartsWith(op.key, upstream_dir);
    if (op.is_put()) return upstream ? 0 : 1;
    return upstream ? 3 : 2;
  };
  std::stable_sort(ops.begin(), ops.end(), [&](const Op& a, const Op& b) { return phase(a) < phase(b); });
  for (size_t at = 0; at < ops.size(); at += max_ops) {
    const size_t end = std::min(ops.size(), at + max_ops);
    batches.emplace_back(std::make_move_iterator(ops.begin() + static_cast<std::ptrdiff_t>(at)),
                         std::make_move_iterator(ops.begin() + static_cast<std::ptrdiff_t>(end)));
  }
  return batches;
}

std::string EncodeMarker(const Marker& m) {
  nlohmann::json out = {{"agent", m.agent},
                        {"revision", m.revision},
                        {"part", absl::StrCat(m.part, "/", m.parts)},
                        {"operations", m.operations},
                        {"kind", m.repair ? "repair" : "change"}};
  return out.dump();
}

std::optional<Marker> DecodeMarker(absl::string_view value) {
  const nlohmann::json m = nlohmann::json::parse(value, nullptr, false);
  if (!m.is_object()) return std::nullopt;
  const auto agent = m.find("agent");
  const auto revision = m.find("revision");
  const auto part = m.find("part");
  if (agent == m.end() || !agent->is_string() || revision == m.end() || !revision->is_number_integer() ||
      part == m.end() || !part->is_string()) {
    return std::nullopt;
  }
  Marker out;
  out.agent = agent->get<std::string>();
  out.revision = revision->get<int64_t>();
  const std::string parts = part->get<std::string>();
  const size_t slash = parts.find('/');
  if (slash == std::string::npos || !absl::SimpleAtoi(parts.substr(0, slash), &out.part) ||
      !absl::SimpleAtoi(parts.substr(slash + 1), &out.parts) || out.part == 0 || out.part > out.parts) {
    return std::nullopt;
  }
  if (auto ops = m.find("operations"); ops != m.end() && ops->is_number_unsigned()) out.operations = ops->get<size_t>();
  out.repair = m.value("kind", "") == "repair";
  return out;
}

ResumeFrom DecideResume(const std::optional<Marker>& found, const Marker& last_committed, const Marker& in_flight) {
  if (!found.has_value() || found->agent.empty()) return ResumeFrom::kRepair;
  if (found->SameTransaction(in_flight)) return ResumeFrom::kCommitted;
  if (last_committed.agent.empty()) return ResumeFrom::kRepair;  // this writer has not committed yet
  if (found->SameTransaction(last_committed)) return ResumeFrom::kResend;
  return ResumeFrom::kRepair;
}

}  // namespace agent::sink
