// The agent's way out, on the main io_context: SIGTERM/SIGINT (or POST /quitquitquit, through
// RequestStop) stop it — in bundle mode after a drain: not ready at once while APISIX keeps
// serving for the drain duration, as Istio's sidecar drains — and a second request stops it at
// once; SIGUSR1 reopens the log files (the agent's and, through `reopen_logs`, nginx's).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "health/readiness.h"

namespace agent::cli {

class ShutdownControl {
 public:
  // `drain` zero: a stop request stops at once.
  ShutdownControl(boost::asio::io_context& io, health::Readiness& readiness, std::chrono::seconds drain,
                  std::function<void()> reopen_logs);

  void Start();  // handles SIGINT, SIGTERM and SIGUSR1 from now on

  // From any thread: begin stopping (or, when already draining, stop now). `why` is logged.
  void RequestStop(const std::string& why);
  // From the io thread: stop now with `code` (a component failed).
  void Exit(int code);

  int exit_code() const { return exit_code_; }

 private:
  void AwaitSignal();
  void Stop(const std::string& why);  // on the io thread

  boost::asio::io_context& io_;
  health::Readiness& readiness_;
  const std::chrono::seconds drain_;
  std::function<void()> reopen_logs_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  bool draining_ = false;
  int exit_code_ = 0;
};

}  // namespace agent::cli
