// replace_after: an absent replica's clock, and the forget it leads to,
// which never leaves a shard's acknowledged records on absent members only.
#include "controller/absent_members.hpp"
#include "controller/plan_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace sluice::cluster {
namespace {

using plan_testing::test_keys;

using namespace std::chrono_literals;
using clock_type = absent_members::clock_type;

TEST(AbsentMembers, AReplicaGoneLongerThanReplaceAfterIsDueAndNotBefore) {
  shard_table table{{1, {{2, "a", {"a", "b", "c"}, {"a", "b", "c"}}, 7}}};
  absent_members absent(60s);
  auto t0 = clock_type::now();
  absent.observe(table, {"a", "b"}, t0);
  EXPECT_TRUE(absent.due(t0 + 59s).empty());
  EXPECT_EQ(absent.next_due(t0 + 59s), t0 + 60s);
  // Seen again later: the clock keeps its start.
  absent.observe(table, {"a", "b"}, t0 + 30s);
  EXPECT_EQ(absent.due(t0 + 60s), std::vector<std::string>{"c"});
  EXPECT_FALSE(absent.next_due(t0 + 60s));
}

TEST(AbsentMembers, AMemberLiveAgainStartsItsClockAfresh) {
  shard_table table{{1, {{2, "a", {"a", "b", "c"}, {"a", "b"}}, 7}}};
  absent_members absent(60s);
  auto t0 = clock_type::now();
  absent.observe(table, {"a", "b"}, t0);
  absent.observe(table, {"a", "b", "c"}, t0 + 50s); // back
  absent.observe(table, {"a", "b"}, t0 + 55s);      // gone again
  EXPECT_TRUE(absent.due(t0 + 100s).empty());
  EXPECT_EQ(absent.due(t0 + 115s), std::vector<std::string>{"c"});
}

TEST(AbsentMembers, ZeroTurnsItOffAndAMemberOfNoShardIsDropped) {
  shard_table table{{1, {{2, "a", {"a", "b", "c"}, {"a", "b"}}, 7}}};
  absent_members off(0ms);
  auto t0 = clock_type::now();
  off.observe(table, {"a", "b"}, t0);
  EXPECT_TRUE(off.due(t0 + 24h).empty());
  EXPECT_FALSE(off.next_due(t0));
  absent_members absent(1s);
  absent.observe(table, {"a", "b"}, t0);
  ASSERT_EQ(absent.gone().size(), 1u);
  table[1].value.replicas = {"a", "b", "d"}; // forgotten meanwhile
  absent.observe(table, {"a", "b", "d"}, t0 + 2s);
  EXPECT_TRUE(absent.gone().empty());
}

TEST(AbsentMembers, ReplacementGivesAnAbsentReplicasPlaceToTheNextLiveMember) {
  // c is absent; d and e host shards and are not replicas of shard 1.
  shard_table table{{1, {{3, "a", {"a", "b", "c"}, {"a", "b", "c"}}, 40}},
                    {2, {{5, "c", {"c", "a", "b"}, {"c", "a"}}, 41}},
                    {3, {{1, "a", {"a", "b", "d"}, {"a", "b"}}, 42}}};
  auto plan =
      absent_replacement_plan(test_keys, table, {"c"}, {"a", "b", "d", "e"}, 3);
  EXPECT_EQ(plan.forgotten, std::vector<std::string>{"c"});
  EXPECT_TRUE(plan.refused.empty());
  ASSERT_EQ(plan.changes.size(), 2u); // shard 3 never had c
  for (const auto& c : plan.changes) {
    EXPECT_EQ(c.expected_mod_revision, table.at(c.shard).mod_revision);
    EXPECT_FALSE(listed(c.next.replicas, "c"));
    EXPECT_FALSE(listed(c.next.isr, "c"));
    EXPECT_EQ(c.next.replicas.size(), 3u); // R restored
    // The newcomer is outside the isr until it caught up.
    EXPECT_FALSE(listed(c.next.isr, c.next.replicas.back()));
  }
  // Shard 2's owner was c: it fails over to a, at a higher epoch.
  auto s2 = std::find_if(plan.changes.begin(), plan.changes.end(),
                         [](auto& c) { return c.shard == 2; });
  ASSERT_NE(s2, plan.changes.end());
  EXPECT_EQ(s2->next.owner, "a");
  EXPECT_GT(s2->next.epoch, 5u);
}

TEST(AbsentMembers, ReplacementNeverLeavesAcknowledgedRecordsOnAbsentMembers) {
  // Shard 1: isr {c} alone (c holds what was acknowledged): refused, as
  // `forget` refuses. Shard 2: isr {c, f}, both absent: forgetting c would
  // leave the records on f alone, which may never come back: refused too.
  // Shard 3: isr {c, a}: a is live, c is replaced.
  shard_table table{{1, {{3, "", {"c", "a", "b"}, {"c"}}, 40}},
                    {2, {{4, "", {"c", "f", "a"}, {"c", "f"}}, 41}},
                    {3, {{2, "a", {"a", "c", "b"}, {"a", "c"}}, 42}}};
  auto plan =
      absent_replacement_plan(test_keys, table, {"c", "f"}, {"a", "b", "d"}, 3);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].shard, 3u);
  EXPECT_EQ(plan.changes[0].next.isr, std::vector<std::string>{"a"});
  std::set<std::uint32_t> refused;
  for (auto& [shard, why] : plan.refused)
    refused.insert(shard);
  EXPECT_EQ(refused, (std::set<std::uint32_t>{1, 2}));
  EXPECT_EQ(plan.forgotten, std::vector<std::string>{"c"});
}

TEST(AbsentMembers, TwoAbsentMembersOfOneShardAreReplacedInOneChange) {
  shard_table table{{1, {{3, "a", {"a", "b", "c"}, {"a", "b", "c"}}, 40}}};
  auto plan =
      absent_replacement_plan(test_keys, table, {"b", "c"}, {"a", "d", "e"}, 3);
  ASSERT_EQ(plan.changes.size(), 1u);
  const auto& next = plan.changes[0].next;
  EXPECT_EQ(next.owner, "a");
  EXPECT_EQ(next.epoch, 3u);
  EXPECT_EQ(next.isr, std::vector<std::string>{"a"});
  EXPECT_EQ(next.replicas.size(), 3u);
  EXPECT_TRUE(listed(next.replicas, "d"));
  EXPECT_TRUE(listed(next.replicas, "e"));
  EXPECT_EQ(plan.forgotten, (std::vector<std::string>{"b", "c"}));
}

} // namespace
} // namespace sluice::cluster
