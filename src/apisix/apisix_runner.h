// Bundle mode's APISIX life cycle, started the way APISIX's own container entrypoint starts it:
// the preparation steps (`apisix init`, `apisix init_etcd`) run to completion, then nginx's master
// itself runs in the foreground as the agent's child (`openresty -p HOME -c HOME/conf/nginx.conf
// -g 'daemon off;'`), so no intermediate process holds its output. Its stdout (the access log) and
// stderr (the error log) reach the agent on separate pipes: access lines are handed on as they
// are, error lines are logged at their nginx level. The runner tells when APISIX serves (its port
// accepts connections), restarts it with backoff when it dies, gives up after repeated fast
// failures, reopens its logs on request (USR1, as nginx does), and stops it gracefully: QUIT, a
// bounded wait, then KILL.
//
// Every child runs in a process group of its own and the agent is a child subreaper, so nginx's
// master and workers are reaped and signalled as one.
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
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::apisix {

struct ApisixRunnerOptions {
  std::string home = "/usr/local/apisix";  // working directory of every step
  // Run in order before every start of `command`, each to completion; a non-zero exit (or a step
  // still running after prepare_timeout) counts as a failed start. Their output is logged.
  std::vector<std::vector<std::string>> prepare;
  std::chrono::milliseconds prepare_timeout{60000};
  std::function<void()> after_prepare;  // e.g. to note the config file APISIX's init rewrote
  std::vector<std::string> command;     // nginx's master, which must stay in the foreground
  // Removed before every start: sockets a killed nginx leaves behind, which the next one cannot
  // bind (APISIX's entrypoint removes logs/worker_events.sock likewise).
  std::vector<std::string> stale_files;
  int port = 9080;                      // serving = this loopback port accepts connections
  std::chrono::milliseconds stop_timeout{10000};
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
  int max_fast_failures = 5;  // consecutive exits this soon after a start → give up
  std::chrono::milliseconds fast_failure{10000};
  // Each line the master writes to stdout (its access log). Default: the agent's stdout, as is.
  std::function<void(absl::string_view)> on_access_line;
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
  // nginx reopens its log files (USR1), as after a rotation.
  void ReopenLogs();

  int starts() const { return starts_.load(); }

 private:
  struct Child {
    pid_t pid = -1;
    int stdout_fd = -1;  // read ends; -1 when merged into stderr_fd
    int stderr_fd = -1;
  };
  void Supervise();
  absl::StatusOr<Child> Spawn(const std::vector<std::string>& argv, bool separate_stdout);
  absl::Status Prepare();  // runs options_.prepare, in order
  // Waits for the whole group of `leader` to exit, at most `limit`; true if it did. Reaps as it goes.
  bool WaitGroupGone(pid_t leader, std::chrono::milliseconds limit);
  void Signal(int signal);  // QUIT/USR1 to the master, anything else to its whole group
  bool PortOpen() const;
  bool Sleep(std::chrono::milliseconds duration);  // false when stopping
  void JoinOutput();

  const ApisixRunnerOptions options_;
  std::function<void(bool)> on_serving_;
  std::function<void(const absl::Status&)> on_give_up_;
  std::thread supervisor_;
  std::vector<std::thread> output_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> starts_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<pid_t> pid_{-1};  // nginx's master, leader of its group
  int exit_status_ = 0;         // waitpid status of pid_ once it exited
  bool exited_ = false;
};

// Reads `fd` until EOF (then closes it), calling `on_line` for every line (and a last unfinished one).
void ForwardLines(int fd, const std::function<void(absl::string_view)>& on_line);

}  // namespace agent::apisix
