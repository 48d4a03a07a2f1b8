#include "apisix/apisix_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace agent::apisix {

namespace {

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return "ended";
}

}  // namespace

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

bool ApisixRunner::Sleep(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

absl::Status ApisixRunner::Spawn() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  std::vector<std::string> argv_strings = {options_.bin};
  argv_strings.insert(argv_strings.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::setpgid(0, 0);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks signals for its own handling
    if (::chdir(options_.home.c_str()) != 0) _exit(126);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so signalling the group cannot race the child
  ::close(pipe_fds[1]);
  pid_ = pid;
  exited_ = false;
  if (output_.joinable()) output_.join();
  output_ = std::thread([this, fd = pipe_fds[0]] { ForwardOutput(fd); });
  return absl::OkStatus();
}

void ApisixRunner::ForwardOutput(int fd) {
  std::string pending;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
      log::Info("apisix: %s", pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  if (!pending.empty()) log::Info("apisix: %s", pending);
  ::close(fd);
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

bool ApisixRunner::WaitGroupGone(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t reaped = ::waitpid(-pid_, &status, WNOHANG);
    if (reaped == pid_) {
      exited_ = true;
      exit_status_ = status;
    }
    if (reaped > 0) continue;                     // maybe more to reap right away
    if (reaped < 0 && errno == ECHILD) return true;  // nothing of the group is left
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ApisixRunner::Signal(int signal) {
  if (signal == SIGQUIT) {
    // nginx's graceful shutdown is QUIT to its master; the Lua wrapper then exits by itself.
    std::ifstream pid_file(options_.home + "/logs/nginx.pid");
    pid_t master = 0;
    if (pid_file >> master && master > 0 && ::getpgid(master) == pid_) {
      ::kill(master, SIGQUIT);
      return;
    }
  }
  ::kill(-pid_, signal);
}

void ApisixRunner::Supervise() {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  int fast_failures = 0;
  while (!stopping_) {
    if (auto s = Spawn(); !s.ok()) {
      on_give_up_(absl::InternalError(absl::StrCat("cannot start APISIX: ", s.message())));
      return;
    }
    ++starts_;
    const auto started = std::chrono::steady_clock::now();
    log::Info("started APISIX: %s %s (pid %d) in %s", options_.bin, absl::StrJoin(options_.args, " "), pid_,
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
      if (!WaitGroupGone(options_.stop_timeout)) {
        log::Warn("APISIX did not quit within %d ms; killing it", options_.stop_timeout.count());
        Signal(SIGKILL);
        WaitGroupGone(std::chrono::milliseconds(5000));
      }
      if (serving) on_serving_(false);
      log::Info("APISIX stopped (%s)", exited_ ? DescribeExit(exit_status_) : "gone");
      break;
    }
    // It died: clear what is left of its group, then restart unless it keeps dying right away.
    if (serving) on_serving_(false);
    Signal(SIGKILL);
    WaitGroupGone(std::chrono::milliseconds(5000));
    const auto lived = std::chrono::steady_clock::now() - started;
    fast_failures = lived < options_.fast_failure ? fast_failures + 1 : 1;
    if (lived >= options_.fast_failure) backoff = options_.initial_backoff;
    log::Error("APISIX exited unexpectedly (%s) after %d ms", DescribeExit(exit_status_),
               std::chrono::duration_cast<std::chrono::milliseconds>(lived).count());
    if (fast_failures >= options_.max_fast_failures) {
      on_give_up_(absl::UnavailableError(absl::StrCat(
          "APISIX exited ", fast_failures, " times in a row within ",
          std::chrono::duration_cast<std::chrono::seconds>(options_.fast_failure).count(),
          " s of starting (last: ", DescribeExit(exit_status_), "); giving up — see the apisix: lines above")));
      break;
    }
    log::Info("restarting APISIX in %d ms", backoff.count());
    if (!Sleep(backoff)) break;
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
  if (output_.joinable()) output_.join();
}

}  // namespace agent::apisix
