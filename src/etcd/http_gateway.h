// etcd's HTTP/JSON gateway (what APISIX's lua-resty-etcd speaks) on an accepted connection:
// HTTP/1.1 keep-alive for unary calls, and /v3/watch as a chunked stream of {"result":…}\n
// messages, one chunk per message, for as long as the client keeps the connection open.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "etcd/etcd_api.h"

namespace agent::etcd {

// Takes over the socket; the session lives until the connection closes.
void ServeHttpConnection(boost::asio::ip::tcp::socket socket, EtcdApi& api);

}  // namespace agent::etcd
