#include "common/read_file.h"

#include <unistd.h>

#include <cstdio>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace agent {
namespace {

std::string TempPath(const char* name) { return ::testing::TempDir() + name; }

TEST(ReadFileTest, ReadsEveryByteOfSmallLargeAndEmptyFiles) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{3 * 65536 + 7}}) {
    std::string written(size, '\0');
    for (size_t i = 0; i < size; ++i) written[i] = static_cast<char>(i * 131 + 7);  // NULs included
    const std::string path = TempPath("read_file_test.bin");
    std::ofstream(path, std::ios::binary) << written;
    std::string content = "stale";
    ASSERT_TRUE(ReadWholeFile(path, content).ok()) << size;
    EXPECT_EQ(content, written) << size;
    std::remove(path.c_str());
  }
}

// Not a regular file: no size to go by, read until the end all the same.
TEST(ReadFileTest, ReadsAPipeToItsEnd) {
  const std::string path = TempPath("read_file_test.fifo");
  std::remove(path.c_str());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const std::string written(200000, 'x');
  std::thread writer([&] { std::ofstream(path, std::ios::binary) << written; });
  std::string content;
  EXPECT_TRUE(ReadWholeFile(path, content).ok());
  writer.join();
  EXPECT_EQ(content.size(), written.size());
  std::remove(path.c_str());
}

TEST(ReadFileTest, AMissingFileIsNotFoundAndNamesThePathAndTheReason) {
  std::string content = "stale";
  absl::Status status = ReadWholeFile("/nonexistent/xds.json", content);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "/nonexistent/xds.json: cannot open: No such file or directory");
  EXPECT_TRUE(content.empty());
}

// Callers take NotFound as "nothing there" (no saved revision, a file removed): a file that is
// there but cannot be opened must not look like that.
TEST(ReadFileTest, OnlyAFileThatIsNotThereIsNotFound) {
  const std::string regular = TempPath("read_file_test.regular");
  std::ofstream(regular) << "x";
  std::string content;
  EXPECT_EQ(ReadWholeFile(regular + "/below", content).code(), absl::StatusCode::kNotFound);  // ENOTDIR
  const std::string a = TempPath("read_file_test.loop_a"), b = TempPath("read_file_test.loop_b");
  std::remove(a.c_str());
  std::remove(b.c_str());
  ASSERT_EQ(::symlink(b.c_str(), a.c_str()), 0);
  ASSERT_EQ(::symlink(a.c_str(), b.c_str()), 0);
  absl::Status status = ReadWholeFile(a, content);  // ELOOP: there, but it cannot be opened
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(status.message(), a + ": cannot open: Too many levels of symbolic links");
  std::remove(a.c_str());
  std::remove(b.c_str());
  std::remove(regular.c_str());
}

TEST(ReadFileTest, ADirectoryIsAReadErrorNotAnEmptyFile) {
  std::string content;
  absl::Status status = ReadWholeFile(::testing::TempDir(), content);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("read failed: Is a directory"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace agent
