// The one-port listener's choice: a connection whose first bytes are HTTP/2's preface ("PRI")
// is gRPC's; anything else is the HTTP/1.1 gateway's. Decided on three bytes.
#pragma once

#include "absl/strings/string_view.h"

namespace agent::etcd {

enum class FirstBytes { kNeedMore, kGrpc, kHttp };

inline FirstBytes ClassifyFirstBytes(absl::string_view peeked) {
  static constexpr absl::string_view kPreface = "PRI";
  if (peeked.size() < kPreface.size() && kPreface.substr(0, peeked.size()) == peeked) return FirstBytes::kNeedMore;
  return peeked.substr(0, kPreface.size()) == kPreface ? FirstBytes::kGrpc : FirstBytes::kHttp;
}

}  // namespace agent::etcd
