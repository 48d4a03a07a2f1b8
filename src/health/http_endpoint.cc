#include "health/http_endpoint.h"

#include <memory>
#include <optional>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tcp_listen.h"

namespace agent::health {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr size_t kMaxBodyBytes = 64 * 1024;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, const HttpEndpoint::Handler& handler)
      : socket_(std::move(socket)), handler_(handler) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, size_t) {
      if (!ec) self->Reply();
    });
  }

 private:
  void Reply() {
    const auto& request = parser_->get();
    HttpRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    in.body = request.body();
    boost::system::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    in.from_loopback = !ec && (peer.address().is_loopback() ||
                               (peer.address().is_v6() && peer.address().to_v6().is_v4_mapped() &&
                                asio::ip::make_address_v4(asio::ip::v4_mapped, peer.address().to_v6()).is_loopback()));
    const HttpReply out = handler_(in);
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(request.version());
    response->keep_alive(request.keep_alive());
    response->result(static_cast<http::status>(out.status));
    response->set(http::field::content_type, out.content_type);
    if (request.method() != http::verb::head) response->body() = out.body;
    response->prepare_payload();
    if (request.method() == http::verb::head) response->content_length(out.body.size());
    http::async_write(socket_, *response, [self = shared_from_this(), response](boost::system::error_code ec, size_t) {
      if (!ec && response->keep_alive()) self->Read();
    });
  }

  asio::ip::tcp::socket socket_;
  const HttpEndpoint::Handler& handler_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

std::string HttpRequest::Query(const std::string& name) const {
  const size_t q = target.find('?');
  if (q == std::string::npos) return "";
  for (absl::string_view pair : absl::StrSplit(absl::string_view(target).substr(q + 1), '&')) {
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == absl::string_view::npos ? "" : std::string(pair.substr(eq + 1));
  }
  return "";
}

HttpEndpoint::HttpEndpoint(std::string flag, Handler handler)
    : flag_(std::move(flag)), handler_(std::move(handler)), acceptor_(io_), accept_backoff_(io_.get_executor()) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

absl::Status HttpEndpoint::Start(const config::ListenAddress& listen) {
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(listen.ip, ec), listen.port);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(flag_, ": ", listen.ip, ": ", ec.message()));
  ec = Listen(acceptor_, endpoint);
  if (ec) return absl::UnavailableError(absl::StrCat(flag_, ": cannot listen on ", listen.ToString(), ": ", ec.message()));
  port_ = acceptor_.local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { io_.run(); });  // ends when the acceptor closes and requests finish
  return absl::OkStatus();
}

void HttpEndpoint::Stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
  boost::system::error_code ignored;  // the loop has ended: nothing else touches them now
  acceptor_.close(ignored);
  accept_backoff_.Cancel();
}

void HttpEndpoint::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // closed
    // Out of descriptors, say: the endpoint must answer again once it passes, so never give up.
    if (ec) return accept_backoff_.Failed(flag_, ec, [this] { Accept(); });
    accept_backoff_.Succeeded();
    std::make_shared<Session>(std::move(socket), handler_)->Read();
    Accept();
  });
}

}  // namespace agent::health
