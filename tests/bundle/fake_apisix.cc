// A stand-in for APISIX in bundle-mode tests, playing both of the programs the agent runs, as APISIX's
// container entrypoint does:
//   fake_apisix init        renders conf/nginx.conf from conf/config.yaml and, like APISIX 3.x's
//                           init, rewrites config.yaml (drops its comments, adds an admin key)
//   fake_apisix init_etcd   records that it ran
//   fake_apisix -p HOME -c HOME/conf/nginx.conf -g 'daemon off;'
//                           nginx's master in the foreground: listens on the first node_listen port,
//                           writes logs/nginx.pid, runs a worker in its process group, writes an
//                           access-log line to stdout per connection and error-log lines (with nginx's
//                           levels) to stderr, reopens on USR1 and quits gracefully on QUIT.
// Scripted through the environment:
//   FAKE_APISIX_STATE        directory for `events` (one line per step/start/quit) and the config seen
//   FAKE_APISIX_CRASHES=N    the first N masters exit with status 3 shortly after starting
//   FAKE_APISIX_IGNORE_QUIT  the master ignores SIGQUIT (the agent must kill it)
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

std::string State(const std::string& name) { return std::string(std::getenv("FAKE_APISIX_STATE")) + "/" + name; }

void Event(const std::string& what) { std::ofstream(State("events"), std::ios::app) << what << " " << getpid() << "\n"; }

int Starts() {
  std::ifstream in(State("events"));
  std::string line;
  int starts = 0;
  while (std::getline(in, line)) starts += line.rfind("start ", 0) == 0;
  return starts;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int Init() {
  const std::string config = Read("conf/config.yaml");
  if (config.empty()) {
    std::cerr << "fake apisix: conf/config.yaml is missing" << std::endl;
    return 1;
  }
  std::ofstream(State("config-seen.yaml")) << config;
  std::ofstream("conf/nginx.conf") << config;  // the master reads its port from it
  std::string rewritten;  // APISIX re-serialises the YAML: comments are gone, an admin key is added
  std::istringstream lines(config);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) != 0) rewritten += line + "\n";
  }
  rewritten += "fake_generated_admin_key: \"edd1c9f034335f136f87ad84b625c8f1\"\n";
  std::ofstream("conf/config.yaml", std::ios::trunc) << rewritten;
  Event("init");
  std::cout << "fake apisix: init done" << std::endl;
  return 0;
}

void Log(const char* level, const std::string& message) {
  std::cerr << "2026/12/01 00:00:00 [" << level << "] " << getpid() << "#0: " << message << std::endl;
}

int Master() {
  const std::string text = Read("conf/nginx.conf");
  Event("start");
  if (Starts() <= std::atoi(std::getenv("FAKE_APISIX_CRASHES") ? std::getenv("FAKE_APISIX_CRASHES") : "0")) {
    Log("emerg", "crashing on purpose");
    usleep(100000);
    return 3;
  }
  const size_t at = text.find("node_listen:");
  const size_t digit = at == std::string::npos ? at : text.find_first_of("0123456789", at);
  if (digit == std::string::npos) {
    Log("emerg", "no node_listen in conf/nginx.conf");
    return 1;
  }
  const int port = std::atoi(text.c_str() + digit);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGQUIT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 16) != 0) {
    Log("emerg", std::string("bind() to 127.0.0.1:") + std::to_string(port) + " failed (" + strerror(errno) + ")");
    return 1;
  }
  mkdir("logs", 0755);
  std::ofstream("logs/nginx.pid") << getpid() << "\n";
  const pid_t worker = fork();
  if (worker == 0) {  // a worker: one access-log line (stdout) per connection, until QUIT
    sigprocmask(SIG_UNBLOCK, &signals, nullptr);
    signal(SIGQUIT, [](int) { _exit(0); });
    for (int served = 1;; ++served) {
      const int client = accept(fd, nullptr, nullptr);
      if (client < 0) continue;
      std::cout << "127.0.0.1 - - [01/Dec/2026:00:00:00 +0000] \"GET /request-" << served << " HTTP/1.1\" 200 0" << std::endl;
      close(client);
    }
  }
  Log("notice", "start worker processes");
  Log("warn", "fake apisix: serving on " + std::to_string(port));
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGUSR1) {
      Event("reopen");
      Log("notice", "reopening logs");
      continue;
    }
    if (signal == SIGQUIT && std::getenv("FAKE_APISIX_IGNORE_QUIT") != nullptr) {
      Event("quit-ignored");
      continue;
    }
    Event(signal == SIGQUIT ? "quit" : "term");
    kill(worker, SIGQUIT);
    waitpid(worker, nullptr, 0);
    unlink("logs/nginx.pid");
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("FAKE_APISIX_STATE") == nullptr) {
    std::cerr << "usage: FAKE_APISIX_STATE=DIR fake_apisix init|init_etcd|-p HOME -c CONF -g 'daemon off;'\n";
    return 2;
  }
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "init") return Init();
  if (command == "init_etcd") {
    Event("init_etcd");
    return 0;
  }
  if (argc == 7 && command == "-p" && std::string(argv[3]) == "-c" && std::string(argv[5]) == "-g" &&
      std::string(argv[6]) == "daemon off;") {
    if (chdir(argv[2]) != 0) return 1;
    return Master();
  }
  std::cerr << "fake apisix: unexpected arguments\n";
  return 2;
}
