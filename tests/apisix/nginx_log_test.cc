#include "apisix/nginx_log.h"

#include <gtest/gtest.h>

namespace agent::apisix {
namespace {

TEST(NginxLogTest, LinesKeepTheirLevel) {
  using log::Level;
  EXPECT_EQ(NginxLineLevel("2026/12/01 21:00:00 [error] 7#7: *3 connect() failed (111: Connection refused)"),
            Level::kError);
  EXPECT_EQ(NginxLineLevel("2026/12/01 21:00:00 [warn] 7#7: *1 an upstream response is buffered"), Level::kWarn);
  EXPECT_EQ(NginxLineLevel("2026/12/01 21:00:00 [notice] 1#1: start worker processes"), Level::kInfo);
  EXPECT_EQ(NginxLineLevel("2026/12/01 21:00:00 [debug] 7#7: *1 http cleanup"), Level::kDebug);
  EXPECT_EQ(NginxLineLevel("nginx: [emerg] unknown directive \"foo\" in /apisix/conf/nginx.conf:3"), Level::kError);
  EXPECT_EQ(NginxLineLevel("2026/12/01 21:00:00 [crit] 7#7: *1 open() failed"), Level::kError);
  EXPECT_EQ(NginxLineLevel("2026/12/01 21:00:00 [alert] 1#1: worker process 7 exited on signal 9"), Level::kError);
  // No level in the prefix: the fallback, even when a bracket comes later in the message.
  EXPECT_EQ(NginxLineLevel("apisix: init done, see [error] later"), Level::kInfo);
  EXPECT_EQ(NginxLineLevel("WARNING: using fixed Admin API token", Level::kWarn), Level::kWarn);
  EXPECT_EQ(NginxLineLevel(""), Level::kInfo);
}

}  // namespace
}  // namespace agent::apisix
