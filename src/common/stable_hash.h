#pragma once

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string_view>

namespace agent {

// FNV-1a, 64 bits: stable across processes and builds, unlike std::hash or absl::Hash, so IDs
// derived from it survive restarts.
constexpr uint64_t StableHash64(absl::string_view data) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace agent
