#include "etcd/server.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <chrono>
#include <cerrno>

#include <boost/asio/strand.hpp>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/tcp_listen.h"
#include "etcd/first_bytes.h"
#include "etcd/http_gateway.h"

namespace agent::etcd {

namespace asio = boost::asio;
using asio::ip::tcp;

EtcdServer::EtcdServer(store::KvStore& store, config::ListenAddress listen, EtcdApiOptions options, int io_threads)
    : listen_(std::move(listen)),
      io_thread_count_(io_threads),
      api_(store, ClusterIdentity::ForClientUrl(absl::StrCat("http://", listen_.ToString())), std::move(options)),
      acceptor_(io_),
      lease_timer_(io_),
      accept_backoff_(io_.get_executor()),
      kv_service_(api_),
      watch_service_(api_),
      lease_service_(api_),
      maintenance_service_(api_),
      cluster_service_(api_),
      auth_service_(api_) {}

EtcdServer::~EtcdServer() { Stop(); }

absl::Status EtcdServer::Start() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listen_.ip, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--grpc-listen ", listen_.ToString(), ": ", ec.message()));
  ec = Listen(acceptor_, tcp::endpoint(address, listen_.port));
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", listen_.ToString(), ": ", ec.message()));
  port_ = acceptor_.local_endpoint().port();

  grpc::ServerBuilder builder;
  builder.RegisterService(&kv_service_);
  for (grpc::Service* service : std::initializer_list<grpc::Service*>{
           &watch_service_, &lease_service_, &maintenance_service_, &cluster_service_, &auth_service_}) {
    builder.RegisterService(service);
  }
  // etcd accepts max-request-bytes plus gRPC framing overhead, then checks the request itself.
  builder.SetMaxReceiveMessageSize(static_cast<int>(api_.max_request_bytes() + 512 * 1024));
  // etcd's keepalive policy (--grpc-keepalive-min-time 5s, -interval 2h, -timeout 20s): clients
  // may ping every 5 s; more often is a strike, and gRPC ends a connection after two.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 2 * 60 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  // Idle gRPC connections are not closed: gRPC 1.51's max-idle never fires on connections handed
  // over from the one-port listener (max-age does, but would recycle busy ones too); an idle
  // HTTP/2 connection costs a client channel's few KB (docs/etcd-compatibility.md).
  grpc_server_ = builder.BuildAndStart();  // no listening port: connections come from Sniff()
  if (!grpc_server_) return absl::InternalError("the gRPC server did not start");

  Accept();
  ScheduleLeaseExpiry();
  for (int i = 0; i < io_thread_count_; ++i) io_threads_.emplace_back([this] { io_.run(); });
  return absl::OkStatus();
}

void EtcdServer::Stop() {
  if (acceptor_.is_open()) {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      lease_timer_.cancel();
      accept_backoff_.Cancel();
    });
  }
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc_server_.reset();
  }
  io_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
}

void EtcdServer::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) return accept_backoff_.Failed("etcd endpoint", ec, [this] { Accept(); });
    accept_backoff_.Succeeded();
    socket.set_option(tcp::no_delay(true), ec);
    auto accepted = std::make_shared<tcp::socket>(std::move(socket));
    // A client that connects and never says anything is idle: closed after the idle timeout.
    std::shared_ptr<asio::steady_timer> silence;
    if (api_.idle_timeout().count() > 0) {
      silence = std::make_shared<asio::steady_timer>(accepted->get_executor(), api_.idle_timeout());
      silence->async_wait([weak = std::weak_ptr<tcp::socket>(accepted)](boost::system::error_code ec) {
        if (ec) return;
        if (auto socket = weak.lock()) socket->cancel(ec);
      });
    }
    Sniff(std::move(accepted), std::move(silence));
    Accept();
  });
}

void EtcdServer::Sniff(std::shared_ptr<tcp::socket> socket, std::shared_ptr<asio::steady_timer> silence,
                       int waited_ms) {
  socket->async_wait(tcp::socket::wait_read, [this, socket, silence, waited_ms](boost::system::error_code ec) {
    if (ec) return;
    if (silence) silence->cancel();
    // Look again shortly: waiting for readability again would spin while peeked bytes stay
    // readable. A client that never completes its first three bytes is dropped after 10 s
    // (gRPC's own handshake timeout is shorter).
    auto look_again = [this, socket, waited_ms] {
      constexpr int kStepMs = 20, kGiveUpMs = 10000;
      if (waited_ms >= kGiveUpMs) return;
      auto timer = std::make_shared<asio::steady_timer>(socket->get_executor(), std::chrono::milliseconds(kStepMs));
      timer->async_wait([this, socket, timer, waited_ms](boost::system::error_code) {
        Sniff(socket, nullptr, waited_ms + kStepMs);
      });
    };
    char peek[3];
    ssize_t n = ::recv(socket->native_handle(), peek, sizeof(peek), MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      // Woken without data (seen under load): not a reason to drop the client, who then got a
      // broken pipe in the middle of its request.
      return look_again();
    }
    if (n <= 0) return;  // closed (or failed) before saying anything
    switch (ClassifyFirstBytes(absl::string_view(peek, static_cast<size_t>(n)))) {
      case FirstBytes::kNeedMore:  // "P", "PR"
        return look_again();
      case FirstBytes::kGrpc: {
        int fd = socket->release();
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        grpc::AddInsecureChannelFromFd(grpc_server_.get(), fd);
        return;
      }
      case FirstBytes::kHttp:
        break;
    }
    ServeHttpConnection(std::move(*socket), api_);
  });
}

}  // namespace agent::etcd

namespace agent::etcd {

void EtcdServer::ScheduleLeaseExpiry() {
  // etcd checks lease expiry every 500 ms as well.
  lease_timer_.expires_after(std::chrono::milliseconds(500));
  lease_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (size_t expired = api_.store().ExpireLeases(); expired > 0) log::Debug("etcd endpoint: %d leases expired", expired);
    ScheduleLeaseExpiry();
  });
}

}  // namespace agent::etcd
