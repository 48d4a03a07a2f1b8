// The xds-v3-file provisioner: loads the given files and directories and follows them with inotify
// (writes, editors' rename-into-place, deletions), publishing the merged resources on each change.
#pragma once

#include <mutex>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "xds/file_set.h"
#include "xds/resource_snapshot.h"

namespace agent::xds {

// What the files hold, in numbers (/syncz and the metrics), kept at each reload: reading it costs
// a copy of a few names, not a merge of the whole configuration.
struct FileSourceSummary {
  std::vector<std::string> files;
  std::map<std::string, size_t> resources;  // type URL → resources in the merged configuration
};

class FileSource {
 public:
  using UpdateCallback = std::function<void(const ResourceSnapshot&)>;

  // `on_update` runs on the io_context's thread(s), never concurrently with itself.
  FileSource(boost::asio::io_context& io, std::vector<std::string> paths, UpdateCallback on_update);
  ~FileSource();

  // Loads everything once (publishing the result even if some files are bad: they are logged) and
  // starts watching. Fails only if the watches cannot be set up.
  absl::Status Start();
  void Stop();

  // /config_dump: what the files hold now (any thread).
  XdsDump Dump() const;
  FileSourceSummary Summary() const;

 private:
  struct WatchedDir {
    std::string dir;
    bool whole_dir = false;          // a directory given on the command line
    std::set<std::string> files;     // files given on the command line, by base name
  };

  absl::Status AddWatch(const std::string& dir, const std::string& file_name);
  std::vector<std::string> CurrentFiles() const;
  void ReadEvents();
  void OnInotifyData(size_t bytes);
  void ScheduleReload();
  void Reload();

  std::vector<std::string> paths_;
  UpdateCallback on_update_;
  int inotify_fd_ = -1;
  boost::asio::posix::stream_descriptor inotify_;
  boost::asio::steady_timer debounce_;
  bool reload_scheduled_ = false;
  std::map<int, WatchedDir> watches_;  // by inotify watch descriptor
  std::set<std::string> dirty_;
  mutable std::mutex files_mutex_;  // files_: written on the io thread, read by Dump()
  FileSet files_;
  FileSourceSummary summary_;  // under files_mutex_
  alignas(8) char buffer_[64 * 1024];
};

}  // namespace agent::xds
