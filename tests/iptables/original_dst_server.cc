// A TCP server for the interception tests: listens on the given ports (every address, IPv4 and
// IPv6) and answers each connection with one line, "<name> <listening port> <original
// destination>", the original destination read with SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST (what
// APISIX's patched nginx exposes), then closes. Prints "ready" once every port listens.
#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
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
    const int fd = socket(AF_INET6, SOCK_STREAM, 0);  // dual stack: IPv4 arrives v4-mapped
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    address.sin6_addr = in6addr_any;
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
      std::string destination = "none";
      sockaddr_in original{};
      socklen_t length = sizeof(original);
      sockaddr_in6 original6{};
      socklen_t length6 = sizeof(original6);
      if (getsockopt(client, SOL_IP, SO_ORIGINAL_DST, &original, &length) == 0) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &original.sin_addr, ip, sizeof(ip));
        destination = std::string(ip) + ":" + std::to_string(ntohs(original.sin_port));
      } else if (getsockopt(client, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &original6, &length6) == 0) {
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &original6.sin6_addr, ip, sizeof(ip));
        destination = "[" + std::string(ip) + "]:" + std::to_string(ntohs(original6.sin6_port));
      }
      const std::string line = name + " " + std::to_string(ports[i]) + " " + destination + "\n";
      (void)!write(client, line.data(), line.size());
      close(client);
    }
  }
}
