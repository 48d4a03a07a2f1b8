#include "apisix/ids.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/stable_hash.h"

namespace agent::apisix {

const std::string& IdAllocator::Assign(const std::string& name) {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  std::string id = absl::StrFormat("%016x", StableHash64(name));
  for (int salt = 1; taken_.count(id) > 0; ++salt) {
    id = absl::StrFormat("%016x", StableHash64(absl::StrCat(name, "#", salt)));
  }
  taken_.insert(id);
  return by_name_.emplace(name, std::move(id)).first->second;
}

}  // namespace agent::apisix
