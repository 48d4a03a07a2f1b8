#include "common/heap.h"

#include <cstdlib>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace agent::heap {
namespace {

#if defined(__GLIBC__)
// What a large translation leaves behind: many small freed blocks. Consolidate() merges them (the
// fast bins are empty afterwards), so the next large allocation on the push path does not.
TEST(HeapTest, ConsolidateMergesTheSmallBlocksALargeWorkLeft) {
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 20000; ++i) blocks.emplace_back(new char[48]);
  std::vector<std::unique_ptr<char[]>> keep;  // every other block stays: the freed ones cannot merge alone
  for (size_t i = 0; i < blocks.size(); i += 2) keep.push_back(std::move(blocks[i]));
  blocks.clear();
  // glibc's malloc puts them in its fast bins; a sanitizer's allocator (ASan, TSan) reports none.
  if (mallinfo2().fsmblks == 0) GTEST_SKIP() << "the allocator is not glibc's malloc (a sanitizer's?)";
  Consolidate();
  EXPECT_EQ(mallinfo2().fsmblks, 0u);
}
#endif

TEST(HeapTest, ConsolidateIsSafeToCallAtAnyTime) {
  Consolidate();
  Consolidate();
}

}  // namespace
}  // namespace agent::heap
