#include "health/health_server.h"

#include <memory>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "common/tcp_listen.h"

namespace agent::health {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// One connection: requests answered in turn until the client closes (kubelet closes after each).
class ProbeSession : public std::enable_shared_from_this<ProbeSession> {
 public:
  ProbeSession(asio::ip::tcp::socket socket, const Readiness& readiness, const std::function<void()>& on_quit)
      : socket_(std::move(socket)), readiness_(readiness), on_quit_(on_quit) {}

  void Read() {
    request_ = {};
    http::async_read(socket_, buffer_, request_, [self = shared_from_this()](boost::system::error_code ec, size_t) {
      if (!ec) self->Reply();
    });
  }

 private:
  void Reply() {
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(request_.version());
    response->keep_alive(request_.keep_alive());
    response->set(http::field::content_type, "text/plain");
    const std::string target(request_.target());
    if (target == "/quitquitquit") {
      boost::system::error_code ec;
      const auto peer = socket_.remote_endpoint(ec);
      if (request_.method() != http::verb::post) {
        response->result(http::status::method_not_allowed);
        response->body() = "POST only\n";
      } else if (ec || !peer.address().is_loopback()) {
        response->result(http::status::forbidden);
        response->body() = "only from loopback\n";
      } else if (!on_quit_) {
        response->result(http::status::not_found);
        response->body() = "not available\n";
      } else {
        on_quit_();
        response->result(http::status::ok);
        response->body() = "draining, then stopping\n";
      }
    } else if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response->result(http::status::method_not_allowed);
      response->body() = "GET only\n";
    } else if (target == "/healthz/live") {
      response->result(http::status::ok);
      response->body() = "live\n";
    } else if (target == "/healthz/ready") {
      response->result(readiness_.ready() ? http::status::ok : http::status::service_unavailable);
      response->body() = readiness_.Describe() + "\n";
    } else {
      response->result(http::status::not_found);
      response->body() = "not found: try /healthz/live or /healthz/ready\n";
    }
    response->prepare_payload();
    http::async_write(socket_, *response, [self = shared_from_this(), response](boost::system::error_code ec, size_t) {
      if (!ec && response->keep_alive()) self->Read();
    });
  }

  asio::ip::tcp::socket socket_;
  const Readiness& readiness_;
  const std::function<void()>& on_quit_;
  boost::beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
};

}  // namespace

HealthServer::HealthServer(const Readiness& readiness, std::function<void()> on_quit)
    : readiness_(readiness), on_quit_(std::move(on_quit)), acceptor_(io_), accept_backoff_(io_.get_executor()) {}

HealthServer::~HealthServer() { Stop(); }

absl::Status HealthServer::Start(const config::ListenAddress& listen) {
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(listen.ip, ec), listen.port);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--health-listen: ", listen.ip, ": ", ec.message()));
  ec = Listen(acceptor_, endpoint);
  if (ec) return absl::UnavailableError(absl::StrCat("--health-listen: cannot listen on ", listen.ToString(), ": ", ec.message()));
  port_ = acceptor_.local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { io_.run(); });  // ends when the acceptor closes and probes finish
  return absl::OkStatus();
}

void HealthServer::Stop() {
  if (!thread_.joinable()) return;
  io_.stop();  // probes in flight are cut: the agent is stopping
  thread_.join();
  boost::system::error_code ignored;  // the loop has ended: nothing else touches them now
  acceptor_.close(ignored);
  accept_backoff_.Cancel();
}

void HealthServer::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // closed
    // Out of descriptors, say: kubelet must still get answers once it passes, so never give up.
    if (ec) return accept_backoff_.Failed("health endpoint", ec, [this] { Accept(); });
    accept_backoff_.Succeeded();
    std::make_shared<ProbeSession>(std::move(socket), readiness_, on_quit_)->Read();
    Accept();
  });
}

}  // namespace agent::health
