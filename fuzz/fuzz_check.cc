#include <cstdio>
#include <cstdlib>

#include "fuzz_target.h"

void FuzzCheck(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}
