#include "common/heap.h"

#include <cstdlib>  // defines __GLIBC__ with glibc
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace agent::heap {

bool EnvironmentSetsArenaLimit(const char* malloc_arena_max, const char* glibc_tunables) {
  return (malloc_arena_max != nullptr && *malloc_arena_max != '\0') ||
         (glibc_tunables != nullptr && std::strstr(glibc_tunables, "glibc.malloc.arena_max=") != nullptr);
}

void Configure() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  if (!EnvironmentSetsArenaLimit(std::getenv("MALLOC_ARENA_MAX"), std::getenv("GLIBC_TUNABLES"))) {
    mallopt(M_ARENA_MAX, kArenas);
  }
#endif
}

void Consolidate() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace agent::heap
