// What a listener does when accept() fails (EMFILE/ENFILE when descriptors run out, ENOBUFS,
// ENOMEM): wait before accepting again — 10 ms doubling to 1 s, back to none after a success —
// instead of retrying at once (a spinning core and a log flood) or giving up (a listener that
// never answers again). Failures are logged at most once a second.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "common/logging.h"

namespace agent {

class AcceptBackoff {
 public:
  explicit AcceptBackoff(const boost::asio::any_io_executor& executor) : timer_(executor) {}

  void Succeeded() { delay_ = std::chrono::milliseconds(0); }

  // Calls `accept_again` after the delay (not at all once Cancel()ed).
  template <typename Next>
  void Failed(const std::string& listener, const boost::system::error_code& error, Next accept_again) {
    using std::chrono::milliseconds;
    delay_ = std::min<milliseconds>(delay_.count() == 0 ? milliseconds(10) : delay_ * 2, milliseconds(1000));
    const auto now = std::chrono::steady_clock::now();
    ++failures_;
    if (now - last_log_ >= std::chrono::seconds(1)) {
      log::Warn("%s: accept failed: %s (%d time(s) since the last report); accepting again in %d ms", listener,
                error.message(), failures_, delay_.count());
      last_log_ = now;
      failures_ = 0;
    }
    timer_.expires_after(delay_);
    timer_.async_wait([next = std::move(accept_again)](const boost::system::error_code& ec) {
      if (!ec) next();
    });
  }

  void Cancel() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point last_log_{};
  int failures_ = 0;
};

}  // namespace agent
