// The allocator's housekeeping, done when the agent chooses rather than on the next request.
#pragma once

namespace agent::heap {

// After a large translation, glibc's malloc holds hundreds of thousands of freed small blocks; the
// first larger allocation afterwards — on whichever thread makes it, e.g. encoding the next
// endpoint change — merges them all first (malloc_consolidate), milliseconds on the latency path
// of a one-endpoint push. Doing it here, at the end of the large work, also hands free pages back
// to the system. glibc's malloc_trim; a no-op with other C libraries.
void Consolidate();

// The allocator's settings for a long-running agent; called first thing in main, before any thread:
// - Large blocks (values of 128 KB and more, big xDS documents) are mapped one by one and given
//   back when freed. glibc's default raises this threshold after the first such free and then
//   keeps freed memory in the heap: a client that writes and deletes large values left the agent's
//   RSS at its peak for good.
// - At most kArenas malloc arenas. glibc gives threads arenas of their own (up to 8 per core),
//   each keeping its freed memory; at mesh scale the xDS decode threads' arenas held ~4 MB of the
//   start's peak RSS for nothing (N=10,000: 102.1 → 98.5–98.8 MB peak, 99.1 → 93.1 steady). Two,
//   not one: with a single arena the HTTP gateway's two threads queue on its lock (range −12 %,
//   a 1,000-route readdir −28 %); with two, no serving benchmark moved. An operator's
//   MALLOC_ARENA_MAX or glibc.malloc.arena_max tunable is left in force.
// No-op with other C libraries.
void Configure();
inline constexpr int kArenas = 2;

// Whether the environment already sets glibc's arena limit (exposed for tests).
bool EnvironmentSetsArenaLimit(const char* malloc_arena_max, const char* glibc_tunables);

}  // namespace agent::heap
