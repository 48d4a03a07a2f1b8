// A stand-in for `apisix start` in bundle-mode tests: behaves like APISIX with `daemon off` —
// a master that reads conf/config.yaml from its working directory, listens on the first
// node_listen port, writes logs/nginx.pid, runs a worker in its process group, and quits
// gracefully on SIGQUIT. Scripted through the environment:
//   FAKE_APISIX_STATE        directory for `events` (one line per start/quit) and the config seen
//   FAKE_APISIX_CRASHES=N    the first N runs exit with status 3 shortly after starting
//   FAKE_APISIX_IGNORE_QUIT  the master ignores SIGQUIT (the agent must kill it)
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) != "start" || std::getenv("FAKE_APISIX_STATE") == nullptr) {
    std::cerr << "usage: FAKE_APISIX_STATE=DIR fake_apisix start\n";
    return 2;
  }
  std::ifstream config_file("conf/config.yaml");
  std::stringstream config;
  config << config_file.rdbuf();
  std::ofstream(State("config-seen.yaml")) << config.str();
  Event("start");

  if (Starts() <= std::atoi(std::getenv("FAKE_APISIX_CRASHES") ? std::getenv("FAKE_APISIX_CRASHES") : "0")) {
    std::cerr << "fake apisix: crashing on purpose" << std::endl;
    usleep(100000);
    return 3;
  }
  const std::string text = config.str();
  const size_t at = text.find("node_listen:\n    - ");
  if (at == std::string::npos) {
    std::cerr << "fake apisix: no node_listen in conf/config.yaml" << std::endl;
    return 1;
  }
  const int port = std::atoi(text.c_str() + at + strlen("node_listen:\n    - "));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGQUIT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 16) != 0) {
    std::cerr << "fake apisix: cannot listen on " << port << ": " << strerror(errno) << std::endl;
    return 1;
  }
  mkdir("logs", 0755);
  std::ofstream("logs/nginx.pid") << getpid() << "\n";
  const pid_t worker = fork();
  if (worker == 0) {  // a worker: waits for its master's QUIT
    int signal = 0;
    sigwait(&signals, &signal);
    _exit(0);
  }
  std::cout << "fake apisix: serving on " << port << std::endl;
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
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
