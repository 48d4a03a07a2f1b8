#include "store/key_range.h"

#include <gtest/gtest.h>

namespace agent::store {
namespace {

TEST(KeyRangeTest, PrefixIncrementsTheLastByteLikeClientv3) {
  EXPECT_EQ(KeyRange::Prefix("/apisix/routes").range_end, "/apisix/routet");
  EXPECT_EQ(KeyRange::Prefix("/apisix/").range_end, "/apisix0");
  EXPECT_EQ(KeyRange::Prefix(std::string("a\xff", 2)).range_end, "b");
  EXPECT_EQ(KeyRange::Prefix(std::string("\xff", 1)).range_end, std::string(1, '\0'));
}

TEST(KeyRangeTest, Contains) {
  KeyRange single = KeyRange::Single("/a");
  EXPECT_TRUE(single.Contains("/a"));
  EXPECT_FALSE(single.Contains("/a/b"));

  KeyRange prefix = KeyRange::Prefix("/a/");
  EXPECT_TRUE(prefix.Contains("/a/"));
  EXPECT_TRUE(prefix.Contains("/a/zzz"));
  EXPECT_FALSE(prefix.Contains("/a0"));
  EXPECT_FALSE(prefix.Contains("/"));

  KeyRange from{"/m", std::string(1, '\0')};
  EXPECT_TRUE(from.Contains(std::string("\xff\xff", 2)));
  EXPECT_FALSE(from.Contains("/a"));
}

}  // namespace
}  // namespace agent::store
