// Opening a TCP listener the way every listener of the agent does: open, reuse the address, bind,
// listen. Callers word the error for their flag.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace agent {

inline boost::system::error_code Listen(boost::asio::ip::tcp::acceptor& acceptor,
                                        const boost::asio::ip::tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  return ec;
}

}  // namespace agent
