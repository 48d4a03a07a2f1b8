#include "xds/file_source.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace agent::xds {
namespace {

constexpr uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE;
// Editors write a file in several steps; changes closer together than this are loaded once.
constexpr std::chrono::milliseconds kDebounce(30);

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

FileSource::FileSource(boost::asio::io_context& io, std::vector<std::string> paths, UpdateCallback on_update)
    : paths_(std::move(paths)), on_update_(std::move(on_update)), inotify_(io), debounce_(io) {}

FileSource::~FileSource() { Stop(); }

absl::Status FileSource::AddWatch(const std::string& dir, const std::string& file_name) {
  int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kDirMask);
  if (wd < 0) return absl::InternalError(absl::StrCat("inotify_add_watch ", dir, ": ", std::strerror(errno)));
  WatchedDir& watched = watches_[wd];
  watched.dir = dir;
  if (file_name.empty()) {
    watched.whole_dir = true;
  } else {
    watched.files.insert(file_name);
  }
  return absl::OkStatus();
}

absl::Status FileSource::Start() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return absl::InternalError(absl::StrCat("inotify_init1: ", std::strerror(errno)));
  inotify_.assign(inotify_fd_);
  for (const std::string& path : paths_) {
    std::filesystem::path p = std::filesystem::absolute(path).lexically_normal();
    absl::Status status = std::filesystem::is_directory(p)
                              ? AddWatch(p.string(), "")
                              : AddWatch(p.parent_path().string(), p.filename().string());
    if (!status.ok()) return status;
  }
  for (const std::string& file : CurrentFiles()) dirty_.insert(file);
  Reload();
  ReadEvents();
  return absl::OkStatus();
}

void FileSource::Stop() {
  debounce_.cancel();
  if (inotify_.is_open()) {
    boost::system::error_code ignored;
    inotify_.close(ignored);  // also closes inotify_fd_
  }
}

std::vector<std::string> FileSource::CurrentFiles() const {
  std::vector<std::string> result;
  for (const auto& [wd, watched] : watches_) {
    for (const std::string& name : watched.files) {
      std::string path = absl::StrCat(watched.dir, "/", name);
      if (IsRegularFile(path)) result.push_back(path);
    }
    if (!watched.whole_dir) continue;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(watched.dir, ec)) {
      if (entry.is_regular_file() && IsXdsFileName(entry.path().filename().string())) {
        result.push_back(entry.path().string());
      }
    }
  }
  return result;
}

void FileSource::ReadEvents() {
  inotify_.async_read_some(boost::asio::buffer(buffer_), [this](const boost::system::error_code& ec, size_t bytes) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      log::Error("xds file watch stopped: %s", ec.message());
      return;
    }
    OnInotifyData(bytes);
    ReadEvents();
  });
}

void FileSource::OnInotifyData(size_t bytes) {
  for (size_t offset = 0; offset < bytes;) {
    const auto* event = reinterpret_cast<const inotify_event*>(buffer_ + offset);
    offset += sizeof(inotify_event) + event->len;
    if (event->mask & IN_Q_OVERFLOW) {
      log::Warn("xds file watch: inotify queue overflowed, reloading every file");
      for (const std::string& file : CurrentFiles()) dirty_.insert(file);
      for (const auto& [wd, watched] : watches_) {
        for (const std::string& name : watched.files) dirty_.insert(absl::StrCat(watched.dir, "/", name));
      }
      continue;
    }
    auto watched = watches_.find(event->wd);
    if (watched == watches_.end() || event->len == 0) continue;
    std::string name(event->name);
    bool relevant = watched->second.files.count(name) > 0 || (watched->second.whole_dir && IsXdsFileName(name));
    if (!relevant) continue;
    // A bare IN_CREATE is followed by IN_CLOSE_WRITE once the content is there.
    if (event->mask == IN_CREATE) continue;
    dirty_.insert(absl::StrCat(watched->second.dir, "/", name));
  }
  if (!dirty_.empty()) ScheduleReload();
}

void FileSource::ScheduleReload() {
  if (reload_scheduled_) return;
  reload_scheduled_ = true;
  debounce_.expires_after(kDebounce);
  debounce_.async_wait([this](const boost::system::error_code& ec) {
    reload_scheduled_ = false;
    if (!ec) Reload();
  });
}

void FileSource::Reload() {
  bool changed = false;
  std::set<std::string> dirty;
  dirty.swap(dirty_);
  std::vector<std::string> present;
  for (const std::string& path : dirty) {
    if (IsRegularFile(path)) present.push_back(path);
  }
  std::vector<bool> file_changed;
  std::unique_lock files_lock(files_mutex_);  // decoding included: Dump() waits for a whole reload
  const std::vector<absl::Status> statuses = files_.LoadAll(present, &file_changed);
  for (size_t i = 0; i < present.size(); ++i) {
    if (!statuses[i].ok()) {
      log::ErrorWith({{"event", "file_rejected"}, {"file", present[i]}, {"error", statuses[i].message()}},
                     "xds file rejected: %s", statuses[i].message());
    } else if (file_changed[i]) {
      log::InfoWith({{"event", "file_loaded"}, {"file", present[i]}}, "xds file loaded: %s", present[i]);
    }
    changed = changed || file_changed[i];
  }
  for (const std::string& path : dirty) {
    if (IsRegularFile(path)) continue;
    if (files_.Contains(path)) {
      log::InfoWith({{"event", "file_removed"}, {"file", path}}, "xds file removed: %s; withdrawing what it contributed",
                    path);
      files_.Remove(path);
      changed = true;
    }
  }
  if (!changed) return;
  const ResourceSnapshot& merged = files_.snapshot();  // read only on this thread once unlocked
  summary_.files = files_.paths();
  for (const char* type : {kListenerType, kRouteConfigurationType, kClusterType, kClusterLoadAssignmentType}) {
    summary_.resources[type] = merged.CountOf(type);
  }
  files_lock.unlock();
  on_update_(merged);
}

XdsDump FileSource::Dump() const {
  std::lock_guard lock(files_mutex_);
  return files_.Dump();
}

FileSourceSummary FileSource::Summary() const {
  std::lock_guard lock(files_mutex_);
  return summary_;
}

}  // namespace agent::xds
