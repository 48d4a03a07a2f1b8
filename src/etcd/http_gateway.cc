#include "etcd/http_gateway.h"

#include <array>
#include <atomic>
#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "etcd/gateway_json.h"
#include "etcd/gateway_router.h"
#include "etcd/peer_name.h"
#include "etcd/watch_events.h"
#include "etcd/watch_stream.h"

namespace agent::etcd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr size_t kBodyLimitSlack = 64 * 1024;
constexpr int kMessagesPerTurn = 16;  // a watch stream's messages written before yielding the thread

// etcd's gateway adds these CORS headers to every response.
void AddEtcdHeaders(http::fields& fields) {
  fields.set("Access-Control-Allow-Headers", "accept, content-type, authorization");
  fields.set("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE");
  fields.set("Access-Control-Allow-Origin", "*");
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(asio::ip::tcp::socket socket, EtcdApi& api)
      : socket_(std::move(socket)), api_(api), idle_timer_(socket_.get_executor()) {}

  void Start() { ReadRequest(); }

 private:
  using Response = http::response<http::string_body>;

  // Closes the connection unless what it waits for (the next request, or the client reading an
  // answer) happens within the idle timeout. Never armed while a watch streams.
  void ArmIdleTimer() {
    if (api_.idle_timeout().count() == 0) return;
    idle_timer_.expires_after(api_.idle_timeout());
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      log::Debug("etcd gateway: closing a connection idle for %ds", self->api_.idle_timeout().count());
      self->Close();
    });
  }

  void ReadRequest() {
    parser_ = std::make_unique<http::request_parser<http::string_body>>();
    // Slack above the API limit so an oversized request gets etcd's error rather than a reset.
    parser_->body_limit(api_.max_request_bytes() + kBodyLimitSlack);
    ArmIdleTimer();
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // Go's server (etcd's gateway) answers "Expect: 100-continue" before the body is read; clients
  // such as curl otherwise wait a second before sending a large body.
  void OnHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) return OnRequest(ec);
    const auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue") &&
        parser_->get().version() >= 11) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnRequest(beast::error_code ec) {
    idle_timer_.cancel();
    if (closed_) return;  // closed while reading (idle timeout)
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) {
      Close();
      return;
    }
    if (ec == http::error::body_limit) {
      parser_.reset();
      auto response = std::make_shared<Response>(http::status::bad_request, 11);
      response->set(http::field::content_type, "application/json");
      response->body() = UnaryErrorBody(absl::InvalidArgumentError("etcdserver: request is too large"));
      response->keep_alive(false);
      Send(response);
      return;
    }
    if (ec) {
      log::Debug("etcd gateway: bad HTTP request: %s", ec.message());
      auto response = std::make_shared<Response>(http::status::bad_request, 11);
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = absl::StrCat(ec.message(), "\n");
      response->keep_alive(false);
      Send(response);
      return;
    }
    const auto& request = parser_->get();
    const absl::string_view target(request.target().data(), request.target().size());
    const std::string method(request.method_string().data(), request.method_string().size());
    const auto authorization = request.find(http::field::authorization);
    const absl::string_view token =
        authorization == request.end() ? absl::string_view() : absl::string_view(authorization->value().data(), authorization->value().size());
    auto reply = HandleUnaryRequest(api_, method, target, token, request.body());
    if (!reply) return StartWatch(request.body());
    auto response = std::make_shared<Response>(static_cast<http::status>(reply->status), 11);
    response->set(http::field::content_type, reply->content_type);
    if (reply->content_type.rfind("text/plain", 0) == 0) response->set("X-Content-Type-Options", "nosniff");
    response->body() = std::move(reply->body);
    if (reply->chunked) response->chunked(true);
    Send(response);
  }

  void SendError(const absl::Status& status) {
    SendJson(static_cast<http::status>(HttpStatusFromCode(status.code())), UnaryErrorBody(status));
  }

  void SendJson(http::status status, std::string body) {
    auto response = std::make_shared<Response>(status, 11);
    response->set(http::field::content_type, "application/json");
    response->body() = std::move(body);
    Send(response);
  }

  void Send(const std::shared_ptr<Response>& response) {
    AddEtcdHeaders(response->base());
    if (parser_ && parser_->is_done()) response->keep_alive(response->keep_alive() && parser_->get().keep_alive());
    if (!response->chunked()) response->prepare_payload();
    ArmIdleTimer();  // a client that never reads its answer
    http::async_write(socket_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        self->idle_timer_.cancel();
                        if (ec || !response->keep_alive()) {
                          self->Close();
                        } else {
                          self->ReadRequest();
                        }
                      });
  }

  // ---- /v3/watch ----

  void StartWatch(const std::string& body) {
    std::vector<absl::string_view> objects;
    std::vector<etcdserverpb::WatchRequest> requests;
    absl::Status status = SplitJsonObjects(body, objects) ? absl::OkStatus()
                                                          : absl::InvalidArgumentError("unexpected EOF");
    for (absl::string_view object : objects) {
      if (!status.ok()) break;
      status = FromGatewayJson(object, &requests.emplace_back());
    }
    // etcd answers 500 once streaming has begun; refusing with a 400 first keeps APISIX from
    // marking the endpoint unhealthy over a client bug.
    if (!status.ok()) return SendError(status);
    // The connection is a watch from now on: the request (its parser, headers, body and read
    // buffer) is not needed by the stream, and a thousand idle watches would each keep ~1 KB of it.
    parser_.reset();
    buffer_.clear();
    buffer_.shrink_to_fit();

    std::weak_ptr<HttpSession> weak = shared_from_this();
    watch_ = std::make_unique<WatchStream>(
        api_.store(), api_.identity(),
        [weak] {
          if (auto self = weak.lock()) self->Wake();
        },
        api_.WatchContext(WatchProtocol::kHttp, PeerNameOfSocket(socket_.native_handle())));
    std::string head =
        "HTTP/1.1 200 OK\r\n"
        "Access-Control-Allow-Headers: accept, content-type, authorization\r\n"
        "Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Content-Type: application/json\r\n"
        "Grpc-Metadata-Content-Type: application/grpc\r\n"
        "X-Accel-Buffering: no\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    beast::error_code ec;
    socket_.non_blocking(true, ec);  // for the chunks' writes (Pump); asynchronous operations are unaffected
    if (ec) {
      Close();
      return;
    }
    unsent_ = std::move(head);
    WriteUnsent();
    for (const auto& request : requests) watch_->Handle(request);
    WatchForClose();
  }

  // The client cancels a watch by closing the connection; anything it sends now is ignored.
  void WatchForClose() {
    socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->Close();
      } else {
        self->WatchForClose();
      }
    });
  }

  // Called from store commit threads: coalesce into one pump on the session's strand.
  void Wake() {
    if (wake_pending_.exchange(true)) return;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->wake_pending_ = false;
      self->Pump();
    });
  }

  // Writes what the watch stream has next. A message goes out in one non-blocking writev straight
  // from the shared text (size line, shared head, this watcher's id, shared tail, CRLF): with a
  // thousand watchers of one revision, each costs its syscall and no copy, allocation or posted
  // completion. What the socket cannot take at once is copied and finished asynchronously.
  void Pump() {
    for (int turn = 0; turn < kMessagesPerTurn; ++turn) {
      if (writing_ || closed_ || !watch_) return;
      auto message = watch_->NextMessage();
      if (!message) return;
      if (!WriteChunk(*message)) return;
    }
    // A watcher far behind yields the thread to the other sessions between turns.
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Pump(); });
  }

  // True when the whole chunk was written now.
  bool WriteChunk(const WatchMessage& message) {
    const GatewayLinePieces line(message);
    char size_line[24];
    const int size_length = absl::SNPrintF(size_line, sizeof(size_line), "%x\r\n", line.size());
    const auto& pieces = line.pieces();
    const std::array<asio::const_buffer, 5> chunk = {
        asio::buffer(size_line, static_cast<size_t>(size_length)), asio::buffer(pieces[0].data(), pieces[0].size()),
        asio::buffer(pieces[1].data(), pieces[1].size()), asio::buffer(pieces[2].data(), pieces[2].size()),
        asio::buffer("\r\n", 2)};
    watch_->Sent(message.event_count(), line.size());
    beast::error_code ec;
    const size_t written = socket_.write_some(chunk, ec);  // the socket is non-blocking
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
    if (ec) {
      Close();
      return false;
    }
    if (written == asio::buffer_size(chunk)) return true;
    beast::buffers_suffix<std::array<asio::const_buffer, 5>> rest(chunk);
    rest.consume(written);
    unsent_.resize(asio::buffer_size(rest));
    asio::buffer_copy(asio::buffer(unsent_), rest);
    WriteUnsent();
    return false;
  }

  void WriteUnsent() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(unsent_), [self = shared_from_this()](beast::error_code ec, size_t) {
      // Freed, not emptied: a move-assigned empty string keeps the buffer (libstdc++), and an idle
      // watch would hold the response head or a first sync's megabytes.
      std::string().swap(self->unsent_);
      self->OnWatchWrite(ec);
    });
  }

  void OnWatchWrite(beast::error_code ec) {
    writing_ = false;
    if (ec) {
      Close();
      return;
    }
    Pump();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    idle_timer_.cancel();
    if (watch_) watch_->Shutdown();
    beast::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  asio::ip::tcp::socket socket_;
  EtcdApi& api_;
  beast::flat_buffer buffer_;
  asio::steady_timer idle_timer_;
  std::unique_ptr<http::request_parser<http::string_body>> parser_;  // freed once a watch streams
  std::unique_ptr<WatchStream> watch_;
  std::string unsent_;  // the rest of a chunk the socket could not take at once
  std::atomic<bool> wake_pending_{false};
  bool writing_ = false;
  bool closed_ = false;
  char discard_[64];  // what a watch's client sends is read and ignored
};

}  // namespace

void ServeHttpConnection(asio::ip::tcp::socket socket, EtcdApi& api) {
  std::make_shared<HttpSession>(std::move(socket), api)->Start();
}

}  // namespace agent::etcd
