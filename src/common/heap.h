// The allocator's housekeeping, done when the agent chooses rather than on the next request.
#pragma once

namespace agent::heap {

// After a large translation, glibc's malloc holds hundreds of thousands of freed small blocks; the
// first larger allocation afterwards — on whichever thread makes it, e.g. encoding the next
// endpoint change — merges them all first (malloc_consolidate), milliseconds on the latency path
// of a one-endpoint push. Doing it here, at the end of the large work, also hands free pages back
// to the system. glibc's malloc_trim; a no-op with other C libraries.
void Consolidate();

}  // namespace agent::heap
