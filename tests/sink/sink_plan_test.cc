#include "sink/sink_plan.h"

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace agent::sink {
namespace {

TEST(SinkPlanTest, MarksTheOwnerAndKeepsEverythingElse) {
  // The spliced form (no labels yet) is the same JSON as a parse-and-merge would give.
  auto marked = MarkOwned(R"({"id":"u1","nodes":[{"host":"10.0.0.1","port":80,"weight":1}]})", "mesh-a");
  ASSERT_TRUE(marked.ok());
  const nlohmann::json m = nlohmann::json::parse(*marked);
  EXPECT_EQ(m["labels"]["managed-by"], "mesh-a");
  EXPECT_EQ(m["id"], "u1");
  EXPECT_EQ(m["nodes"][0]["port"], 80);
  EXPECT_TRUE(OwnedBy(*marked, "mesh-a"));
  EXPECT_FALSE(OwnedBy(*marked, "mesh-b"));

  auto empty = MarkOwned("{}", "mesh-a");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(nlohmann::json::parse(*empty), nlohmann::json::parse(R"({"labels":{"managed-by":"mesh-a"}})"));

  // Labels already there are merged, not duplicated (a duplicate key would be invalid for APISIX).
  auto merged = MarkOwned(R"({"id":"r1","labels":{"team":"payments"}})", "mesh-a");
  ASSERT_TRUE(merged.ok());
  const nlohmann::json r = nlohmann::json::parse(*merged);
  EXPECT_EQ(r["labels"]["team"], "payments");
  EXPECT_EQ(r["labels"]["managed-by"], "mesh-a");

  EXPECT_FALSE(MarkOwned("init_dir", "mesh-a").ok());
  EXPECT_FALSE(MarkOwned(R"({"labels":"x"})", "mesh-a").ok());
}

TEST(SinkPlanTest, OnlyTheOwnersLabelMakesAKeyOwned) {
  EXPECT_FALSE(OwnedBy("init_dir", "mesh-a"));  // APISIX's directory placeholders
  EXPECT_FALSE(OwnedBy(R"({"id":"1","uri":"/managed-by"})", "mesh-a"));  // the word alone is not a label
  EXPECT_FALSE(OwnedBy(R"({"id":"1","labels":{"managed-by":"someone-else"}})", "mesh-a"));
  EXPECT_FALSE(OwnedBy(R"({"id":"1","labels":{"managed-by":1}})", "mesh-a"));
  EXPECT_FALSE(OwnedBy(R"({"id":"1","labels":{"managed-by":"mesh-a")", "mesh-a"));  // truncated
  EXPECT_TRUE(OwnedBy(R"({"id":"1","labels":{"managed-by":"mesh-a"}})", "mesh-a"));
}

TEST(SinkPlanTest, DiffWritesOnlyWhatDiffersAndDeletesOnlyTheOwnersStaleKeys) {
  const std::map<std::string, store::SharedValue> desired = {{"/a/routes/1", "r1"}, {"/a/routes/2", "r2-new"},
                                                             {"/a/upstreams/1", "u1"}};
  const std::map<std::string, std::string> actual = {{"/a/routes/2", "r2-old"}, {"/a/upstreams/1", "u1"},
                                                     {"/a/routes/9", "stale"}};
  const std::vector<Op> ops = Diff(desired, actual);
  const std::vector<Op> expected = {{"/a/routes/1", store::SharedValue("r1")},
                                    {"/a/routes/2", store::SharedValue("r2-new")},
                                    {"/a/routes/9", std::nullopt}};
  EXPECT_EQ(ops, expected);
  std::map<std::string, std::string> same;
  for (const auto& [k, v] : desired) same.emplace(k, v.str());
  EXPECT_TRUE(Diff(desired, same).empty());  // nothing changed: nothing written
}

// A model of what APISIX reads: routes name upstreams by id. Applying the parts one at a time, no
// state in between may have a route whose upstream is missing, whatever the change.
TEST(SinkPlanTest, EveryIntermediateStateOfASplitChangeIsServable) {
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    std::map<std::string, std::string> state;  // key → the upstream id a route uses ("" for upstreams)
    std::uniform_int_distribution<int> id(0, 30);
    auto route_to = [](int u) { return "u" + std::to_string(u); };
    for (int i = 0; i < 20; ++i) {
      const int u = id(random);
      state["/p/upstreams/" + route_to(u)] = "";
      state["/p/routes/r" + std::to_string(i)] = route_to(u);
    }
    // The desired state: routes moved to other (often new) upstreams, some removed, unused upstreams gone.
    std::map<std::string, std::string> desired;
    for (int i = 0; i < 25; ++i) {
      if (id(random) % 4 == 0) continue;
      const int u = id(random);
      desired["/p/upstreams/" + route_to(u)] = "";
      desired["/p/routes/r" + std::to_string(i)] = route_to(u);
    }
    std::vector<Op> ops;
    for (const auto& [key, target] : desired) {
      if (!state.count(key) || state[key] != target) ops.push_back({key, store::SharedValue(target.empty() ? "-" : target)});
    }
    for (const auto& [key, target] : state) {
      if (!desired.count(key)) ops.push_back({key, std::nullopt});
    }
    std::shuffle(ops.begin(), ops.end(), random);
    const size_t max_ops = 1 + static_cast<size_t>(round % 7);
    const auto parts = Split(ops, max_ops, "/p/upstreams/");
    size_t total = 0;
    for (const auto& part : parts) {
      ASSERT_LE(part.size(), max_ops);
      total += part.size();
      for (const Op& op : part) {
        if (op.is_put()) {
          state[op.key] = op.value->str() == "-" ? "" : op.value->str();
        } else {
          state.erase(op.key);
        }
      }
      for (const auto& [key, target] : state) {
        if (!target.empty()) {
          ASSERT_TRUE(state.count("/p/upstreams/" + target)) << key << " points at a missing upstream " << target;
        }
      }
    }
    EXPECT_EQ(total, ops.size());
    EXPECT_EQ(state, desired);
  }
}

TEST(SinkPlanTest, AChangeThatFitsIsOneTransactionInItsOwnOrder) {
  std::vector<Op> ops = {{"/p/routes/1", std::nullopt}, {"/p/upstreams/1", store::SharedValue("u")}};
  const auto parts = Split(ops, 128, "/p/upstreams/");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0], ops);
  EXPECT_TRUE(Split({}, 128, "/p/upstreams/").empty());
}

TEST(SinkPlanTest, TheMarkerRoundTripsAndBadOnesAreNotTrusted) {
  const Marker m{"pod-a/7", 1234, 2, 3, 127, false};
  auto back = DecodeMarker(EncodeMarker(m));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->SameTransaction(m));
  EXPECT_EQ(back->parts, 3u);
  EXPECT_EQ(back->operations, 127u);
  EXPECT_FALSE(back->repair);
  EXPECT_TRUE(DecodeMarker(EncodeMarker({"pod-a/7", 1234, 1, 1, 0, true}))->repair);
  EXPECT_FALSE(DecodeMarker("not json").has_value());
  EXPECT_FALSE(DecodeMarker(R"({"agent":"a","revision":"1","part":"1/1"})").has_value());  // revision: a number
  EXPECT_FALSE(DecodeMarker(R"({"agent":"a","revision":1,"part":"3/2"})").has_value());
  EXPECT_FALSE(DecodeMarker(R"({"agent":"a","revision":1,"part":"0/2"})").has_value());
  EXPECT_FALSE(DecodeMarker(R"({"agent":"a","revision":1,"part":"1-2"})").has_value());
}

// After a transaction whose answer was lost: committed → go on; not committed → send it again;
// anything else → repair. Never "resend" over someone else's write, never skip one that did not commit.
TEST(SinkPlanTest, ResumingAfterALostAnswerTrustsOnlyWhatTheMarkerProves) {
  const Marker last{"a/1", 40, 1, 1, 5, false};       // our last known commit
  const Marker in_flight{"a/1", 41, 1, 0, 0, false};  // the change whose answer was lost (parts unknown)
  EXPECT_EQ(DecideResume(Marker{"a/1", 41, 1, 2, 128, false}, last, in_flight), ResumeFrom::kCommitted);
  EXPECT_EQ(DecideResume(last, last, in_flight), ResumeFrom::kResend);
  // Another agent wrote since, or our own agent under another identity (a restart): repair.
  EXPECT_EQ(DecideResume(Marker{"b/9", 41, 1, 1, 3, false}, last, in_flight), ResumeFrom::kRepair);
  EXPECT_EQ(DecideResume(Marker{"a/1", 39, 1, 1, 3, false}, last, in_flight), ResumeFrom::kRepair);
  // A repair at the same revision is not the change.
  EXPECT_EQ(DecideResume(Marker{"a/1", 41, 1, 1, 3, true}, last, in_flight), ResumeFrom::kRepair);
  // No marker, or no commit of ours yet in this session: nothing is proven.
  EXPECT_EQ(DecideResume(std::nullopt, last, in_flight), ResumeFrom::kRepair);
  EXPECT_EQ(DecideResume(last, Marker{}, in_flight), ResumeFrom::kRepair);
  // The second part of a split change: its first part's marker means "part 2 did not commit".
  const Marker part1{"a/1", 41, 1, 2, 127, false};
  EXPECT_EQ(DecideResume(part1, part1, Marker{"a/1", 41, 2, 0, 0, false}), ResumeFrom::kResend);
  EXPECT_EQ(DecideResume(Marker{"a/1", 41, 2, 2, 1, false}, part1, Marker{"a/1", 41, 2, 0, 0, false}),
            ResumeFrom::kCommitted);
}

}  // namespace
}  // namespace agent::sink
