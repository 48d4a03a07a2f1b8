#include "common/logging.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace agent::log {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Log rotation (logrotate's move, then SIGUSR1): lines after Reopen go to the new file.
TEST(LoggingTest, ReopenFollowsARotation) {
  const std::string path = ::testing::TempDir() + "/agent-log-" + std::to_string(::getpid());
  ASSERT_TRUE(Configure(Level::kInfo, path).ok());
  Info("before the rotation");
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  Info("still into the moved file");
  ASSERT_TRUE(Reopen().ok());
  Info("after the rotation");
  ASSERT_TRUE(Configure(Level::kInfo, "stderr").ok());
  EXPECT_TRUE(Reopen().ok());  // nothing to reopen
  const std::string old_file = Read(path + ".1"), new_file = Read(path);
  EXPECT_NE(old_file.find("before the rotation"), std::string::npos);
  EXPECT_NE(old_file.find("still into the moved file"), std::string::npos);
  EXPECT_NE(new_file.find("after the rotation"), std::string::npos);
  EXPECT_EQ(new_file.find("before"), std::string::npos);
  std::remove(path.c_str());
  std::remove((path + ".1").c_str());
}

}  // namespace
}  // namespace agent::log
