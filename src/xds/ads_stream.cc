#include "xds/ads_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace agent::xds {

std::string RejectionMessage(const std::vector<std::string>& errors, const std::string& version) {
  return absl::StrCat("apisix-mesh-agent rejected ", errors.size(), " resource(s) of version ", version, ": ",
                      absl::StrJoin(errors, "; "));
}

bool IsSubscribedType(const std::string& type) {
  if (std::find(std::begin(kAdsTypes), std::end(kAdsTypes), type) != std::end(kAdsTypes)) return true;
  log::Warn("xds-v3-grpc: ignoring a response of type %s, which the agent did not ask for", type);
  return false;
}

}  // namespace agent::xds
