// Bundle mode's APISIX life cycle: start it (`apisix start`, nginx kept in the foreground by the
// rendered config), forward its output into the agent's log, tell when it serves (its port
// accepts connections), restart it with backoff when it dies, give up after repeated fast
// failures, and stop it gracefully: nginx's QUIT, a bounded wait, then KILL.
//
// APISIX runs in a process group of its own and the agent is a child subreaper, so nginx's master
// and workers are reaped and signalled as one even though `apisix` (a Lua wrapper) forks them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace agent::apisix {

struct ApisixRunnerOptions {
  std::string bin = "/usr/local/bin/apisix";
  std::string home = "/usr/local/apisix";  // working directory; logs/nginx.pid is read from it
  std::vector<std::string> args = {"start"};
  int port = 9080;  // serving = this loopback port accepts connections
  std::chrono::milliseconds stop_timeout{10000};
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
  int max_fast_failures = 5;                   // consecutive exits this soon after a start → give up
  std::chrono::milliseconds fast_failure{10000};
};

class ApisixRunner {
 public:
  // `on_serving(bool)` runs when APISIX starts or stops serving; `on_give_up(status)` once, when
  // it keeps dying. Both on the runner's thread.
  ApisixRunner(ApisixRunnerOptions options, std::function<void(bool)> on_serving,
               std::function<void(const absl::Status&)> on_give_up);
  ~ApisixRunner();

  void Start();
  // Graceful stop (QUIT, wait at most stop_timeout, KILL); returns once every APISIX process is gone.
  void Stop();

  int starts() const { return starts_.load(); }

 private:
  void Supervise();
  absl::Status Spawn();       // fork/exec into a new process group; sets pid_ and output_fd_
  void ForwardOutput(int fd);  // one log line per output line, until EOF
  // Waits for the whole group to exit, at most `limit`; true if it did. Reaps as it goes.
  bool WaitGroupGone(std::chrono::milliseconds limit);
  void Signal(int signal);    // nginx's master (logs/nginx.pid) for QUIT, else the whole group
  bool PortOpen() const;
  bool Sleep(std::chrono::milliseconds duration);  // false when stopping

  const ApisixRunnerOptions options_;
  std::function<void(bool)> on_serving_;
  std::function<void(const absl::Status&)> on_give_up_;
  std::thread supervisor_;
  std::thread output_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> starts_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  pid_t pid_ = -1;         // the `apisix` process, leader of its group
  int exit_status_ = 0;    // waitpid status of pid_ once it exited
  bool exited_ = false;
};

}  // namespace agent::apisix
