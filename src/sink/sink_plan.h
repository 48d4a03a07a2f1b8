// What the etcd sink writes, decided without talking to etcd: which keys under the prefix are the
// agent's (a label in the value), what differs between the desired and the actual state, and how a
// change too large for one etcd transaction is split so that APISIX never reads a route whose
// upstream is missing. Pure; the sink (etcd_sink.h) does the talking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "store/shared_value.h"

namespace agent::sink {

// The label that marks an object as written by the agent (APISIX's routes, upstreams and stream
// routes all accept `labels`; the value is the --etcd-sink-owner name).
inline constexpr char kOwnerLabel[] = "managed-by";

// One put (value set) or delete (no value) of a key.
struct Op {
  std::string key;
  std::optional<store::SharedValue> value;
  bool is_put() const { return value.has_value(); }
  friend bool operator==(const Op& a, const Op& b) { return a.key == b.key && a.value == b.value; }
};

// `value` (a JSON object) with labels[managed-by] = owner added; the other labels are kept. The
// owner is a label value: no quotes or backslashes (the sidecar's flag check ensures it).
absl::StatusOr<std::string> MarkOwned(absl::string_view value, absl::string_view owner);
// Whether `value` carries labels[managed-by] == owner.
bool OwnedBy(absl::string_view value, absl::string_view owner);

// The ops that turn `actual` (the owner's keys found in etcd, key → value) into `desired` (key →
// the marked value): a put for each key missing or different, a delete for each key not desired.
// Nothing else under the prefix is in `actual`, so nothing else is touched.
std::vector<Op> Diff(const std::map<std::string, store::SharedValue>& desired,
                     const std::map<std::string, std::string>& actual);

// Splits `ops` into transactions of at most `max_ops` each. One transaction when they fit (the
// change is atomic). Otherwise in an order in which every intermediate state is one APISIX can
// serve: upstreams are written before the routes and stream routes that may point at them, and
// deleted after the routes that pointed at them are rewritten or deleted:
//   1. puts of upstreams  2. puts of everything else  3. deletes of everything else  4. deletes of upstreams
// `upstream_dir` is "<prefix>/upstreams/".
std::vector<std::vector<Op>> Split(std::vector<Op> ops, size_t max_ops, absl::string_view upstream_dir);

// The marker key's value: what the writer's last transaction was. Written in every transaction
// (and compared by the next one), it tells a writer whose transaction's answer was lost whether it
// committed, and an operator who wrote last.
struct Marker {
  std::string agent;      // the writer's identity
  int64_t revision = 0;   // the agent's store revision written (a change), or desired (a repair)
  size_t part = 0;        // this transaction's part of the change, from 1
  size_t parts = 0;
  size_t operations = 0;  // puts and deletes in this transaction, the marker's own put aside
  bool repair = false;    // a diff against the cluster rather than one change
  bool SameTransaction(const Marker& other) const {
    return agent == other.agent && revision == other.revision && part == other.part && repair == other.repair;
  }
};
std::string EncodeMarker(const Marker& marker);
std::optional<Marker> DecodeMarker(absl::string_view value);

// After a transaction whose outcome is unknown (its answer was lost, the member died), what the
// marker found in the cluster says: it committed (go on with the next part), nothing was written
// since the writer's last known commit (send it again), or the cluster is not as the writer left
// it (repair from the desired state).
enum class ResumeFrom { kCommitted, kResend, kRepair };
ResumeFrom DecideResume(const std::optional<Marker>& found, const Marker& last_committed, const Marker& in_flight);

}  // namespace agent::sink
