#include "cli/shutdown_control.h"

#include <csignal>

#include <boost/asio/post.hpp>

#include "common/logging.h"

namespace agent::cli {

ShutdownControl::ShutdownControl(boost::asio::io_context& io, health::Readiness& readiness, std::chrono::seconds drain,
                                 std::function<void()> reopen_logs)
    : io_(io),
      readiness_(readiness),
      drain_(drain),
      reopen_logs_(std::move(reopen_logs)),
      signals_(io, SIGINT, SIGTERM, SIGUSR1),
      drain_timer_(io) {}

void ShutdownControl::Start() { AwaitSignal(); }

void ShutdownControl::AwaitSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGUSR1) {  // log rotation: the agent's file and nginx's, as on nginx's own USR1
      if (auto s = log::Reopen(); !s.ok()) log::Error("%s", s.message());
      log::Info("received SIGUSR1: reopening log files");
      if (reopen_logs_) reopen_logs_();
    } else {
      Stop(signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    AwaitSignal();
  });
}

void ShutdownControl::RequestStop(const std::string& why) {
  boost::asio::post(io_, [this, why] { Stop(why); });
}

void ShutdownControl::Exit(int code) {
  exit_code_ = code;
  io_.stop();
}

void ShutdownControl::Stop(const std::string& why) {
  if (draining_) {
    log::Info("%s again: stopping without waiting for the drain", why);
    return Exit(0);
  }
  if (drain_.count() == 0) {
    log::Info("%s, shutting down", why);
    return Exit(0);
  }
  draining_ = true;
  readiness_.SetDraining();
  log::Info("%s: draining for %d s (--drain-duration): not ready, APISIX still serving; %s again stops at once", why,
            drain_.count(), why);
  drain_timer_.expires_after(drain_);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::Info("drain over, shutting down");
    Exit(0);
  });
}

}  // namespace agent::cli
