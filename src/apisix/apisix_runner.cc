#include "apisix/apisix_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apisix/nginx_log.h"
#include "common/logging.h"

namespace agent::apisix {

namespace {

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return "ended";
}

// An nginx error-log line (or any other output of APISIX's steps), at its own level.
void LogApisixLine(absl::string_view line) {
  if (line.empty()) return;
  const log::Level level = NginxLineLevel(line);
  if (log::Enabled(level)) log::Write(level, absl::StrCat("apisix: ", line));
}

void WriteStdout(absl::string_view line) {
  std::string out = absl::StrCat(line, "\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void ForwardLines(int fd, const std::function<void(absl::string_view)>& on_line) {
  std::string pending;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t newline; (newline = pending.find('\n', start)) != std::string::npos; start = newline + 1) {
      on_line(absl::string_view(pending).substr(start, newline - start));
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line(pending);
  ::close(fd);
}

ApisixRunner::ApisixRunner(ApisixRunnerOptions options, std::function<void(bool)> on_serving,
                           std::function<void(const absl::Status&)> on_give_up)
    : options_(std::move(options)), on_serving_(std::move(on_serving)), on_give_up_(std::move(on_give_up)) {}

ApisixRunner::~ApisixRunner() { Stop(); }

void ApisixRunner::Start() {
  // Orphaned nginx processes come back to the agent (not to init), so none outlives it unseen.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  supervisor_ = std::thread([this] { Supervise(); });
}

void ApisixRunner::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

void ApisixRunner::ReopenLogs() {
  if (pid_ > 0) Signal(SIGUSR1);
}

bool ApisixRunner::Sleep(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

absl::StatusOr<ApisixRunner::Child> ApisixRunner::Spawn(const std::vector<std::string>& argv_strings,
                                                        bool separate_stdout) {
  int err_pipe[2], out_pipe[2] = {-1, -1};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  if (separate_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<std::string> copy = argv_strings;
  std::vector<char*> argv;
  for (auto& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::setpgid(0, 0);
    ::dup2(separate_stdout ? out_pipe[1] : err_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks signals for its own handling
    if (::chdir(options_.home.c_str()) != 0) _exit(126);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so signalling the group cannot race the child
  ::close(err_pipe[1]);
  if (separate_stdout) ::close(out_pipe[1]);
  return Child{pid, separate_stdout ? out_pipe[0] : -1, err_pipe[0]};
}

absl::Status ApisixRunner::Prepare() {
  for (const auto& step : options_.prepare) {
    const std::string what = absl::StrJoin(step, " ");
    auto child = Spawn(step, /*separate_stdout=*/false);
    if (!child.ok()) return child.status();
    std::thread reader([fd = child->stderr_fd] { ForwardLines(fd, LogApisixLine); });
    const auto deadline = std::chrono::steady_clock::now() + options_.prepare_timeout;
    int status = 0;
    bool done = false;
    while (!done && !stopping_ && std::chrono::steady_clock::now() < deadline) {
      done = ::waitpid(child->pid, &status, WNOHANG) == child->pid;
      if (!done) Sleep(std::chrono::milliseconds(20));
    }
    if (!done) ::kill(-child->pid, SIGKILL);
    WaitGroupGone(child->pid, std::chrono::milliseconds(5000));
    reader.join();
    if (stopping_) return absl::CancelledError("stopping");
    if (!done) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, " did not finish within ", options_.prepare_timeout.count() / 1000, " s"));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(what, " failed (", DescribeExit(status), ")"));
    }
    log::Info("bundle mode: %s done", what);
  }
  if (options_.after_prepare) options_.after_prepare();
  return absl::OkStatus();
}

bool ApisixRunner::PortOpen() const {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(options_.port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return open;
}

bool ApisixRunner::WaitGroupGone(pid_t leader, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t reaped = ::waitpid(-leader, &status, WNOHANG);
    if (reaped == leader && leader == pid_) {
      exited_ = true;
      exit_status_ = status;
    }
    if (reaped > 0) continue;                        // maybe more to reap right away
    if (reaped < 0 && errno == ECHILD) return true;  // nothing of the group is left
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ApisixRunner::Signal(int signal) {
  // nginx's master handles QUIT (graceful stop) and USR1 (reopen logs) for its workers.
  if (signal == SIGQUIT || signal == SIGUSR1) {
    ::kill(pid_, signal);
    return;
  }
  ::kill(-pid_, signal);
}

void ApisixRunner::JoinOutput() {
  for (auto& t : output_) t.join();
  output_.clear();
}

void ApisixRunner::Supervise() {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  int fast_failures = 0;
  const auto on_access = options_.on_access_line ? options_.on_access_line : WriteStdout;
  while (!stopping_) {
    const auto started = std::chrono::steady_clock::now();
    ++starts_;
    absl::Status failed = Prepare();
    if (stopping_) break;
    if (failed.ok()) {
      for (const auto& file : options_.stale_files) ::unlink(file.c_str());
      auto child = Spawn(options_.command, /*separate_stdout=*/true);
      if (!child.ok()) {
        on_give_up_(absl::InternalError(absl::StrCat("cannot start APISIX: ", child.status().message())));
        return;
      }
      pid_ = child->pid;
      exited_ = false;
      output_.emplace_back([fd = child->stdout_fd, &on_access] { ForwardLines(fd, on_access); });
      output_.emplace_back([fd = child->stderr_fd] { ForwardLines(fd, LogApisixLine); });
      log::Info("started APISIX: %s (pid %d) in %s", absl::StrJoin(options_.command, " "), pid_.load(),
                options_.home);
      bool serving = false;
      while (!stopping_ && !exited_) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exited_ = true;
          exit_status_ = status;
          break;
        }
        if (!serving && PortOpen()) {
          serving = true;
          log::Info("APISIX serves on port %d", options_.port);
          on_serving_(true);
        }
        Sleep(std::chrono::milliseconds(serving ? 200 : 50));
      }
      if (stopping_) {
        log::Info("stopping APISIX (QUIT, then KILL after %d ms)", options_.stop_timeout.count());
        Signal(SIGQUIT);
        if (!WaitGroupGone(pid_, options_.stop_timeout)) {
          log::Warn("APISIX did not quit within %d ms; killing it", options_.stop_timeout.count());
          Signal(SIGKILL);
          WaitGroupGone(pid_, std::chrono::milliseconds(5000));
        }
        JoinOutput();
        if (serving) on_serving_(false);
        log::Info("APISIX stopped (%s)", exited_ ? DescribeExit(exit_status_) : "gone");
        break;
      }
      // It died: clear what is left of its group, then restart unless it keeps dying right away.
      if (serving) on_serving_(false);
      Signal(SIGKILL);
      WaitGroupGone(pid_, std::chrono::milliseconds(5000));
      JoinOutput();
      failed = absl::UnavailableError(DescribeExit(exit_status_));
    }
    const auto lived = std::chrono::steady_clock::now() - started;
    fast_failures = lived < options_.fast_failure ? fast_failures + 1 : 1;
    if (lived >= options_.fast_failure) backoff = options_.initial_backoff;
    log::Error("APISIX exited unexpectedly (%s) after %d ms", failed.message(),
               std::chrono::duration_cast<std::chrono::milliseconds>(lived).count());
    if (fast_failures >= options_.max_fast_failures) {
      on_give_up_(absl::UnavailableError(absl::StrCat(
          "APISIX exited ", fast_failures, " times in a row within ",
          std::chrono::duration_cast<std::chrono::seconds>(options_.fast_failure).count(),
          " s of starting (last: ", failed.message(), "); giving up — see the apisix: lines above")));
      break;
    }
    log::Info("restarting APISIX in %d ms", backoff.count());
    if (!Sleep(backoff)) break;
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
  JoinOutput();
}

}  // namespace agent::apisix
