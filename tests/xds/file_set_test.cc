#include "xds/file_set.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace agent::xds {
namespace {

class FileSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("file_set_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }
  static std::string Cluster(const std::string& name) {
    return R"({"resources":[{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":")" + name +
           R"(","type":"STATIC"}]})";
  }

  std::filesystem::path dir_;
};

TEST_F(FileSetTest, BadContentKeepsTheLastGoodStateOfThatFile) {
  FileSet files;
  bool changed = false;
  std::string path = Write("c.json", Cluster("a"));
  ASSERT_TRUE(files.Load(path, &changed).ok());
  EXPECT_TRUE(changed);

  Write("c.json", "{ this is not json");
  absl::Status status = files.Load(path, &changed);
  ASSERT_FALSE(status.ok());
  EXPECT_FALSE(changed);
  EXPECT_NE(status.message().find(path), absl::string_view::npos);
  EXPECT_NE(status.message().find("last good content stays in force"), absl::string_view::npos);
  EXPECT_EQ(files.snapshot().clusters.count("a"), 1u);
}

TEST_F(FileSetTest, UnchangedContentIsNotAChange) {
  FileSet files;
  bool changed = false;
  std::string path = Write("c.json", Cluster("a"));
  ASSERT_TRUE(files.Load(path, &changed).ok());
  ASSERT_TRUE(files.Load(path, &changed).ok());
  EXPECT_FALSE(changed);
}

TEST_F(FileSetTest, RemovingAFileWithdrawsOnlyWhatItContributed) {
  FileSet files;
  bool changed = false;
  std::string a = Write("a.json", Cluster("a"));
  std::string b = Write("b.json", Cluster("b"));
  ASSERT_TRUE(files.Load(a, &changed).ok());
  ASSERT_TRUE(files.Load(b, &changed).ok());
  EXPECT_EQ(files.snapshot().clusters.size(), 2u);
  EXPECT_TRUE(files.Remove(a));
  ResourceSnapshot merged = files.snapshot();
  EXPECT_EQ(merged.clusters.size(), 1u);
  EXPECT_EQ(merged.clusters.count("b"), 1u);
}

TEST_F(FileSetTest, LaterPathWinsForDuplicateNames) {
  FileSet files;
  bool changed = false;
  std::string a = Write("a.json", R"({"resources":[{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster",
      "name":"dup","type":"STATIC","connectTimeout":"1s"}]})");
  std::string b = Write("b.json", R"({"resources":[{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster",
      "name":"dup","type":"STATIC","connectTimeout":"2s"}]})");
  ASSERT_TRUE(files.Load(b, &changed).ok());
  ASSERT_TRUE(files.Load(a, &changed).ok());
  EXPECT_EQ(files.snapshot().clusters.at("dup").Unpack().connect_timeout().seconds(), 2);
  ASSERT_TRUE(files.Remove(a));  // the shadowed one goes: the winner stays as it was, nothing read again
  EXPECT_EQ(files.snapshot().clusters.at("dup").Unpack().connect_timeout().seconds(), 2);
  EXPECT_EQ(files.rereads(), 0u);
}

TEST_F(FileSetTest, AWithdrawnDuplicateFallsBackToTheEarlierFilesDefinition) {
  // The union is the only copy of the resources: the earlier file's definition is read again.
  FileSet files;
  bool changed = false;
  auto cluster = [](const char* name, int seconds) {
    return absl::StrCat(R"({"resources":[{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":")",
                        name, R"(","type":"STATIC","connectTimeout":")", seconds, R"(s"}]})");
  };
  std::string a = Write("a.json", cluster("dup", 1));
  std::string b = Write("b.json", cluster("dup", 2));
  ASSERT_TRUE(files.Load(a, &changed).ok());
  ASSERT_TRUE(files.Load(b, &changed).ok());
  EXPECT_EQ(files.snapshot().clusters.at("dup").Unpack().connect_timeout().seconds(), 2);
  EXPECT_EQ(files.Dump().origins.at(kClusterType).at("dup").source, b);

  Write("b.json", cluster("other", 3));  // b withdraws dup: a's definition is in force again
  ASSERT_TRUE(files.Load(b, &changed).ok());
  EXPECT_EQ(files.snapshot().clusters.at("dup").Unpack().connect_timeout().seconds(), 1);
  EXPECT_EQ(files.Dump().origins.at(kClusterType).at("dup").source, a);
  EXPECT_EQ(files.snapshot().clusters.size(), 2u);

  Write("b.json", cluster("dup", 4));  // and b's again once it defines it again
  ASSERT_TRUE(files.Load(b, &changed).ok());
  EXPECT_EQ(files.snapshot().clusters.at("dup").Unpack().connect_timeout().seconds(), 4);
  EXPECT_EQ(files.snapshot().clusters.count("other"), 0u);

  EXPECT_TRUE(files.Remove(b));  // removing the winner restores the earlier file's definition too
  EXPECT_EQ(files.snapshot().clusters.at("dup").Unpack().connect_timeout().seconds(), 1);
  EXPECT_TRUE(files.Remove(a));
  EXPECT_EQ(files.snapshot().size(), 0u);
  EXPECT_TRUE(files.Dump().origins.empty() || files.Dump().origins.at(kClusterType).empty());
}

TEST_F(FileSetTest, ManyWithdrawnDuplicatesReadTheEarlierFileOnce) {
  // A copy of a large file next to it, then removed: thousands of names come back from the
  // original, which is read once for all of them, not once per name.
  std::vector<std::string> clusters;
  for (int i = 0; i < 2000; ++i) {
    clusters.push_back(absl::StrCat(R"({"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"c)", i,
                                    R"(","type":"STATIC","connectTimeout":"1s"})"));
  }
  const std::string document = absl::StrCat(R"({"resources":[)", absl::StrJoin(clusters, ","), "]}");
  FileSet files;
  bool changed = false;
  std::string a = Write("a.json", document);
  std::string b = Write("b.json", absl::StrReplaceAll(document, {{"\"1s\"", "\"2s\""}}));
  ASSERT_TRUE(files.Load(a, &changed).ok());
  ASSERT_TRUE(files.Load(b, &changed).ok());
  EXPECT_EQ(files.snapshot().clusters.at("c1999").Unpack().connect_timeout().seconds(), 2);
  EXPECT_TRUE(files.Remove(b));
  EXPECT_EQ(files.rereads(), 1u);
  ASSERT_EQ(files.snapshot().clusters.size(), 2000u);
  for (const auto& [name, cluster] : files.snapshot().clusters) {
    ASSERT_EQ(cluster.Unpack().connect_timeout().seconds(), 1) << name;
  }
}

TEST(XdsFileNameTest, SkipsEditorTemporaries) {
  EXPECT_TRUE(IsXdsFileName("routes.json"));
  EXPECT_FALSE(IsXdsFileName(".routes.json.swp"));
  EXPECT_FALSE(IsXdsFileName(".#routes.json"));
  EXPECT_FALSE(IsXdsFileName("routes.json~"));
  EXPECT_FALSE(IsXdsFileName("4913"));
}

}  // namespace
}  // namespace agent::xds
