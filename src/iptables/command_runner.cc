#include "iptables/command_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/write_all.h"

namespace agent::iptables {

CommandResult SystemCommandRunner::Run(const std::vector<std::string>& argv, const std::string& input) {
  CommandResult result;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return {-1, absl::StrCat("pipe: ", std::strerror(errno))};
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return {-1, absl::StrCat("pipe: ", std::strerror(errno))};
  }
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  for (auto& arg : args) c_args.push_back(arg.data());
  c_args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execvp(c_args[0], c_args.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (pid < 0) {
    ::close(in[1]);
    ::close(out[0]);
    return {-1, absl::StrCat("fork: ", std::strerror(errno))};
  }
  // Feed stdin from a thread so a chatty child never blocks on a full output pipe.
  std::thread writer([fd = in[1], &input] {
    WriteAll(fd, input);  // a child that exits early closes the pipe: its exit code says what happened
    ::close(fd);
  });
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(out[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  writer.join();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == 127 && result.output.empty()) result.output = absl::StrCat(argv[0], ": not found");
  return result;
}

}  // namespace agent::iptables
