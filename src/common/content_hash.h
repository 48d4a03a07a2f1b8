#pragma once

#include <cstdint>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace agent {

// A 64-bit hash of bytes for telling, within this process, whether content changed: a file's
// text, a resource's wire bytes. Several GB/s (absl's hash of a string: wyhash-style 64-bit
// multiplies, against FNV-1a's byte-at-a-time ~1 GB/s); a start at mesh scale hashes ~25 MB.
// Seeded per process, so never persist it or derive anything another process reads from it:
// StableHash64 is for that.
inline uint64_t ContentHash64(absl::string_view data) { return absl::Hash<absl::string_view>{}(data); }

}  // namespace agent
