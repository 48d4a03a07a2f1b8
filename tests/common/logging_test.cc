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

// --log-format json: one object per line; the component a message names first is its logger;
// quotes, backslashes and control characters are escaped.
TEST(LoggingTest, JsonLinesNameTheLoggerAndEscape) {
  const std::string path = ::testing::TempDir() + "/agent-json-log-" + std::to_string(::getpid());
  ASSERT_TRUE(Configure(Level::kInfo, path).ok());
  SetFormat(Format::kJson);
  Warn("xds-v3-grpc: NACK \"a\\b\"\tend");
  Info("no component here");
  Debug("not written at info");
  SetFormat(Format::kText);
  ASSERT_TRUE(Configure(Level::kInfo, "stderr").ok());
  const std::string text = Read(path);
  const size_t newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos);
  const std::string first = text.substr(0, newline);
  EXPECT_NE(first.find(R"("level":"warn","logger":"xds-v3-grpc","message":"NACK \"a\\b\"\tend"})"), std::string::npos)
      << first;
  EXPECT_NE(text.find(R"("level":"info","logger":"agent","message":"no component here"})"), std::string::npos) << text;
  EXPECT_EQ(text.find("not written"), std::string::npos);
  Format format;
  EXPECT_FALSE(ParseFormat("yaml", &format).ok());
  std::remove(path.c_str());
}

// An event's fields: a "fields" object in JSON (strings quoted and escaped, numbers bare, in the
// order given); the text line is the message alone.
TEST(LoggingTest, EventFieldsAreAJsonObjectAndStayOutOfText) {
  const std::string path = ::testing::TempDir() + "/agent-fields-log-" + std::to_string(::getpid());
  ASSERT_TRUE(Configure(Level::kInfo, path).ok());
  SetFormat(Format::kJson);
  const std::string nonce = "n\"1";
  WarnWith({{"type", "type.googleapis.com/envoy.config.cluster.v3.Cluster"}, {"nonce", nonce}, {"revision", int64_t{42}},
            {"resources", size_t{3}}},
           "xds-v3-grpc: NACK %s", "Cluster");
  DebugWith({{"never", "built"}}, "not written at info");
  InfoWith({}, "no fields");
  SetFormat(Format::kText);
  InfoWith({{"revision", 7}}, "applied: text keeps the message only");
  ASSERT_TRUE(Configure(Level::kInfo, "stderr").ok());
  const std::string text = Read(path);
  EXPECT_NE(text.find(R"("message":"NACK Cluster","fields":{"type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","nonce":"n\"1","revision":42,"resources":3}})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("message":"no fields"})"), std::string::npos) << text;
  EXPECT_EQ(text.find("not written"), std::string::npos);
  EXPECT_NE(text.find(" info applied: text keeps the message only\n"), std::string::npos) << text;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace agent::log
