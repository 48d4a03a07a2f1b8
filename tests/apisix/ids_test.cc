#include "apisix/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace agent::apisix {
namespace {

TEST(IdAllocatorTest, StableDistinctAndTheReturnedReferencesStayValid) {
  IdAllocator ids;
  const std::string& first = ids.Assign("outbound|80||reviews.default.svc.cluster.local");
  const std::string copy = first;
  std::set<std::string> seen{copy};
  for (int i = 0; i < 20000; ++i) seen.insert(ids.Assign(absl::StrCat("cluster-", i)));  // the tables grow
  EXPECT_EQ(first, copy);  // the translation keeps these references while it asks for more
  EXPECT_EQ(seen.size(), 20001u);
  EXPECT_EQ(&ids.Assign("outbound|80||reviews.default.svc.cluster.local"), &first);
  ASSERT_EQ(copy.size(), 16u);
  EXPECT_EQ(copy.find_first_not_of("0123456789abcdef"), std::string::npos);

  IdAllocator again;  // another translation: the same name, the same ID
  EXPECT_EQ(again.Assign("outbound|80||reviews.default.svc.cluster.local"), copy);
}

}  // namespace
}  // namespace agent::apisix
