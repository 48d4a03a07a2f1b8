// A TCP server for the interception tests: listens on the given ports (on every address) and
// answers each connection with one line, "<name> <listening port> <original destination>", the
// original destination read with SO_ORIGINAL_DST (what APISIX's patched nginx exposes), then
// closes. Prints "ready" once every port listens.
#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: original_dst_server NAME PORT...\n";
    return 2;
  }
  const std::string name = argv[1];
  std::vector<pollfd> listeners;
  std::vector<int> ports;
  for (int i = 2; i < argc; ++i) {
    const int port = std::atoi(argv[i]);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 64) != 0) {
      std::cerr << "cannot listen on " << port << ": " << strerror(errno) << "\n";
      return 1;
    }
    listeners.push_back({fd, POLLIN, 0});
    ports.push_back(port);
  }
  std::cout << "ready" << std::endl;
  for (;;) {
    if (poll(listeners.data(), listeners.size(), -1) < 0) continue;
    for (size_t i = 0; i < listeners.size(); ++i) {
      if ((listeners[i].revents & POLLIN) == 0) continue;
      const int client = accept(listeners[i].fd, nullptr, nullptr);
      if (client < 0) continue;
      sockaddr_in original{};
      socklen_t length = sizeof(original);
      std::string destination = "none";
      if (getsockopt(client, SOL_IP, SO_ORIGINAL_DST, &original, &length) == 0) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &original.sin_addr, ip, sizeof(ip));
        destination = std::string(ip) + ":" + std::to_string(ntohs(original.sin_port));
      }
      const std::string line = name + " " + std::to_string(ports[i]) + " " + destination + "\n";
      (void)!write(client, line.data(), line.size());
      close(client);
    }
  }
}
