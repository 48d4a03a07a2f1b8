// The resources contributed by each watched xDS file, and their union. Pure bookkeeping (no
// inotify), so the keep-last-good and removal rules are unit-tested directly.
//
// The union is the only copy of the resources (packed: xds/packed.h): each file is indexed by
// the names it defines, not kept as its own copy. A name two files define resolves to the
// later path; when that file withdraws it, the earlier file's definition is read again from disk.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "xds/discovery_json.h"

#include "absl/status/status.h"
#include "xds/resource_snapshot.h"
#include "xds/xds_dump.h"

namespace agent::xds {

class FileSet {
 public:
  // Reads and decodes `path`. On failure the file's previous resources stay in force and the error
  // names the path and the reason. Returns OK with changed=false when the content is unchanged.
  absl::Status Load(const std::string& path, bool* changed);
  // The same for several files, read and decoded in parallel (decoding JSON dominates a large
  // mesh's start); results in `paths` order. `changed[i]` as Load's.
  std::vector<absl::Status> LoadAll(const std::vector<std::string>& paths, std::vector<bool>* changed);

  // The file is gone: what it contributed is removed. Returns whether it had contributed anything.
  bool Remove(const std::string& path);

  bool Contains(const std::string& path) const { return files_.count(path) > 0; }
  // How many times a file was read again to restore definitions a later file withdrew.
  size_t rereads() const { return rereads_; }
  // The files that contribute (loaded at least once, not removed), in path order.
  std::vector<std::string> paths() const;

  // Union over files in path order; a name defined by two files resolves to the later path.
  const ResourceSnapshot& snapshot() const { return merged_; }
  // The union and, for each resource, the file it comes from and when that file was loaded.
  XdsDump Dump() const;

 private:
  struct FileState {
    uint64_t content_hash = 0;  // not the content: at mesh scale that is tens of MB kept for nothing
    std::chrono::system_clock::time_point loaded{};
  };
  struct Decoded {
    uint64_t content_hash = 0;
    absl::Status status;
    ResourceSnapshot resources;
    DecodeReport report;
  };
  static Decoded Decode(const std::string& path);  // thread-safe: no state touched
  absl::Status Commit(const std::string& path, Decoded decoded, bool* changed);
  // Replaces what `path` defines of one type with `incoming` (moved into the union). Returns
  // whether the file defined anything of the type before.
  template <typename Map>
  bool Replace(const std::string& path, const char* type, Map& merged, Map incoming);
  // The definitions of `names` in `path`, read again (once): the file that defines them now that a
  // later one withdrew them. Absent (with a warning) when the file no longer reads as it did.
  template <typename Map>
  void Restore(const std::string& path, const char* type, Map& merged, const std::vector<std::string>& names);

  std::map<std::string, FileState> files_;
  ResourceSnapshot merged_;
  size_t rereads_ = 0;
  // type → name → the files defining it, in path order (the last wins): pointers to files_' keys,
  // one per name and file rather than a copy of the path.
  std::map<std::string, std::map<std::string, std::vector<const std::string*>>> definers_;
};

// Whether a directory entry looks like an xDS file rather than an editor's temporary or backup.
bool IsXdsFileName(const std::string& name);

}  // namespace agent::xds
