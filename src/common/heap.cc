#include "common/heap.h"

#include <cstdlib>  // defines __GLIBC__ with glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace agent::heap {

void Consolidate() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace agent::heap
