#include "common/heap.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include <sys/wait.h>
#include <vector>

#include "absl/synchronization/barrier.h"

#include <gtest/gtest.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// Under a sanitizer, malloc is the sanitizer's: glibc's arenas and statistics say nothing of it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AGENT_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define AGENT_SANITIZER_ALLOCATOR 1
#endif
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

// In a fresh process (gtest's threadsafe death tests re-run the binary): eight threads allocating
// at once, then the number of arenas glibc reports. Exits with it.
[[noreturn]] void ExitWithArenasAfterEightThreads(bool configure) {
  if (configure) Configure();
  absl::Barrier* all_allocated = new absl::Barrier(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([all_allocated] {
      std::unique_ptr<char[]> block(new char[1024]);
      block[0] = 1;
      if (all_allocated->Block()) delete all_allocated;  // each holds its block until all have one
    });
  }
  for (auto& t : threads) t.join();
  char* info = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&info, &size);
  malloc_info(0, out);
  std::fclose(out);
  int arenas = 0;
  for (const char* at = info; (at = std::strstr(at, "<heap nr=")) != nullptr; ++at) ++arenas;
  std::free(info);
  std::_Exit(arenas);
}

// The decode threads' own arenas held ~4 MB of the start's peak: the agent keeps at most kArenas.
TEST(HeapTest, ConfigureKeepsTheArenasForEveryThreadToItsLimit) {
#if defined(AGENT_SANITIZER_ALLOCATOR)
  GTEST_SKIP() << "the allocator is the sanitizer's";
#endif
  if (EnvironmentSetsArenaLimit(std::getenv("MALLOC_ARENA_MAX"), std::getenv("GLIBC_TUNABLES"))) {
    GTEST_SKIP() << "this environment sets the arena limit itself";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto within_limit = [](int status) { return WIFEXITED(status) && WEXITSTATUS(status) <= kArenas; };
  EXPECT_EXIT(ExitWithArenasAfterEightThreads(true), within_limit, "");
  // Without it glibc gives the threads arenas of their own: the check above can fail.
  auto beyond_limit = [](int status) { return WIFEXITED(status) && WEXITSTATUS(status) > kArenas; };
  EXPECT_EXIT(ExitWithArenasAfterEightThreads(false), beyond_limit, "");
}
#endif

TEST(HeapTest, AnOperatorsArenaLimitIsLeftInForce) {
  EXPECT_FALSE(EnvironmentSetsArenaLimit(nullptr, nullptr));
  EXPECT_FALSE(EnvironmentSetsArenaLimit("", "glibc.malloc.mmap_threshold=4096"));
  EXPECT_TRUE(EnvironmentSetsArenaLimit("4", nullptr));
  EXPECT_TRUE(EnvironmentSetsArenaLimit(nullptr, "glibc.malloc.mmap_threshold=4096:glibc.malloc.arena_max=2"));
}

TEST(HeapTest, ConsolidateIsSafeToCallAtAnyTime) {
  Consolidate();
  Consolidate();
}

}  // namespace
}  // namespace agent::heap
