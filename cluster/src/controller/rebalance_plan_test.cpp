// The rebalance against its rules: each step alone, the throttle, the isr
// never below min_insync, nothing while a member is not live or when
// balanced; and whole scale-outs simulated round by round (followers catch
// up between rounds) until balanced, the rules checked after every round.
#include "controller/plan_test_support.hpp"
#include "controller/rebalance_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "shard_map.hpp"

namespace sluice::cluster {
namespace {

using plan_testing::one_shard;
using plan_testing::test_keys;

/// Every shard assigned as initial_plan does over `members`, every replica
/// in sync.
shard_table settled_table(const std::vector<std::string>& members,
                          std::size_t r) {
  shard_table t;
  auto plan = initial_plan(test_keys, {}, members, r);
  EXPECT_TRUE(plan);
  for (auto& c : plan->changes) {
    c.next.isr = c.next.replicas;
    t[c.shard] = {c.next, 7};
  }
  return t;
}

rebalance_settings settings(std::size_t moves = 1024, std::size_t r = 3,
                            std::size_t min_insync = 2) {
  return {r, min_insync, moves};
}

/// The first shard whose ranking over `members` starts with `prefix`.
std::uint32_t shard_ranked(const std::vector<std::string>& members,
                           const std::vector<std::string>& prefix) {
  auto map = shard_map::compute(members);
  for (std::uint32_t s = 0; s < shard_count; ++s)
    if (map.ranking(s, prefix.size()) == prefix)
      return s;
  ADD_FAILURE() << "no shard ranked so";
  return 0;
}

TEST(RebalancePlan, DoesNothingWhenEveryShardIsAtItsTarget) {
  auto t = settled_table({"a", "b", "c", "d"}, 3);
  auto out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings());
  EXPECT_TRUE(out.waiting.empty()) << out.waiting;
  EXPECT_TRUE(out.plan.changes.empty());
  EXPECT_TRUE(out.plan.txns.empty());
  EXPECT_EQ(out.unbalanced, 0u);
  EXPECT_EQ(out.in_motion, 0u);
}

TEST(RebalancePlan, AddsANewMemberOutsideTheIsrWhereItIsInTheTarget) {
  auto t = settled_table({"a", "b", "c"}, 3);
  std::vector<std::string> hosting{"a", "b", "c", "d"};
  auto out = rebalance_plan(test_keys, t, hosting, settings());
  auto map = shard_map::compute(hosting);
  std::size_t expected = 0;
  for (std::uint32_t s = 0; s < shard_count; ++s)
    expected += listed(map.ranking(s, 3), "d") ? 1 : 0;
  ASSERT_EQ(out.plan.changes.size(), expected);
  EXPECT_EQ(out.added, expected);
  EXPECT_GT(expected, 600u); // about 3/4 of the shards
  for (const auto& c : out.plan.changes) {
    const auto& now = t.at(c.shard).value;
    EXPECT_EQ(c.expected_mod_revision, 7);
    EXPECT_EQ(c.next.owner, now.owner);
    EXPECT_EQ(c.next.epoch, now.epoch);
    EXPECT_EQ(c.next.isr, now.isr);
    auto grown = now.replicas;
    grown.push_back("d");
    EXPECT_EQ(c.next.replicas, grown);
  }
  EXPECT_EQ(out.in_motion, expected);
}

TEST(RebalancePlan, KeepsAtMostTheGivenNumberOfShardsInMotion) {
  auto t = settled_table({"a", "b", "c"}, 3);
  auto out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings(32));
  EXPECT_EQ(out.plan.changes.size(), 32u);
  EXPECT_EQ(out.in_motion, 32u);
  // Ten shards already catching up leave room for 22 more.
  std::size_t n = 0;
  for (auto& [shard, e] : t)
    if (n < 10 && ++n)
      std::erase(e.value.isr, e.value.replicas.back());
  out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings(32));
  EXPECT_EQ(out.plan.changes.size(), 22u);
  EXPECT_EQ(out.in_motion, 32u);
  // Full: nothing new starts.
  out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings(10));
  EXPECT_TRUE(out.plan.changes.empty());
  EXPECT_GT(out.unbalanced, 0u);
}

TEST(RebalancePlan, AShardAlreadyInMotionGoesOnWhateverTheThrottle) {
  std::vector<std::string> four{"a", "b", "c", "d"};
  auto three = shard_map::compute({"a", "b", "c"});
  // s: d added and caught up, its owner not d yet (in motion: 4 replicas).
  auto s = shard_ranked(four, {"d"});
  auto replicas = three.ranking(s, 3);
  auto old_owner = replicas.front();
  replicas.push_back("d");
  auto t = one_shard(s, {5, old_owner, replicas, replicas});
  // Another shard catching up: two in motion with a limit of one.
  std::uint32_t other = s == 0 ? 1 : 0;
  t[other] = {{1, "a", {"a", "b", "c"}, {"a"}}, 3};
  // And one at rest whose target has d: it must not start.
  auto map = shard_map::compute(four);
  std::uint32_t rest = 0;
  while (rest == s || rest == other || !listed(map.ranking(rest, 3), "d"))
    ++rest;
  auto at_rest = three.ranking(rest, 3);
  t[rest] = {{1, at_rest.front(), at_rest, at_rest}, 3};
  auto out = rebalance_plan(test_keys, t, four, settings(1));
  ASSERT_EQ(out.plan.changes.size(), 1u);
  EXPECT_EQ(out.plan.changes[0].shard, s);
  EXPECT_EQ(out.plan.changes[0].next.owner, "d");
  EXPECT_EQ(out.plan.changes[0].next.epoch, 6u);
  EXPECT_EQ(out.owners_moved, 1u);
  EXPECT_EQ(out.in_motion, 2u);
}

TEST(RebalancePlan, MovesTheOwnerToThePreferredMemberOnceItIsInTheIsr) {
  auto s = shard_ranked({"a", "b", "c"}, {"c"});
  auto map = shard_map::compute({"a", "b", "c"});
  auto target = map.ranking(s, 3);
  // c came back after a failover: owner target[1], c catching up.
  std::vector<std::string> isr{target[1], target[2]};
  auto t = one_shard(s, {6, target[1], target, isr});
  auto out = rebalance_plan(test_keys, t, {"a", "b", "c"}, settings());
  EXPECT_TRUE(out.plan.changes.empty()) << "c is not in the isr yet";
  EXPECT_EQ(out.in_motion, 1u);
  t.at(s).value.isr = target;
  out = rebalance_plan(test_keys, t, {"a", "b", "c"}, settings());
  ASSERT_EQ(out.plan.changes.size(), 1u);
  const auto& next = out.plan.changes[0].next;
  EXPECT_EQ(next.owner, "c");
  EXPECT_EQ(next.epoch, 7u);
  EXPECT_EQ(next.replicas, target);
  // The old owner drops what it holds and catches up again.
  EXPECT_EQ(next.isr, (std::vector<std::string>{"c", target[2]}));
  EXPECT_EQ(out.owners_moved, 1u);
  EXPECT_EQ(out.in_motion, 1u);
}

TEST(RebalancePlan, NeverLeavesTheIsrBelowMinInsyncAndAddsASpareInstead) {
  // R = 2, min_insync = 2: moving the owner would leave one in sync.
  auto s = shard_ranked({"a", "b"}, {"b"});
  auto t = one_shard(s, {3, "a", {"a", "b"}, {"a", "b"}});
  auto out = rebalance_plan(test_keys, t, {"a", "b"}, settings(32, 2, 2));
  EXPECT_TRUE(out.plan.changes.empty());
  ASSERT_EQ(out.plan.refused.size(), 1u);
  EXPECT_NE(out.plan.refused[0].second.find("min_insync"), std::string::npos);
  // With a third live member that is not in the target: a spare first.
  auto s3 = shard_ranked({"a", "b", "c"}, {"b", "a", "c"});
  t = one_shard(s3, {3, "a", {"a", "b"}, {"a", "b"}});
  out = rebalance_plan(test_keys, t, {"a", "b", "c"}, settings(32, 2, 2));
  ASSERT_EQ(out.plan.changes.size(), 1u);
  auto next = out.plan.changes[0].next;
  EXPECT_EQ(next.replicas, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(next.isr, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(next.owner, "a");
  // The spare catching up: nothing; caught up: the owner moves, 2 in sync.
  t.at(s3).value = next;
  EXPECT_TRUE(rebalance_plan(test_keys, t, {"a", "b", "c"}, settings(32, 2, 2))
                  .plan.changes.empty());
  t.at(s3).value.isr = {"a", "b", "c"};
  out = rebalance_plan(test_keys, t, {"a", "b", "c"}, settings(32, 2, 2));
  ASSERT_EQ(out.plan.changes.size(), 1u);
  next = out.plan.changes[0].next;
  EXPECT_EQ(next.owner, "b");
  EXPECT_EQ(next.isr, (std::vector<std::string>{"b", "c"}));
  // a back in sync: the spare leaves.
  next.isr = {"a", "b", "c"};
  t.at(s3).value = next;
  out = rebalance_plan(test_keys, t, {"a", "b", "c"}, settings(32, 2, 2));
  ASSERT_EQ(out.plan.changes.size(), 1u);
  EXPECT_EQ(out.plan.changes[0].next.replicas,
            (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(out.plan.changes[0].next.isr, (std::vector<std::string>{"b", "a"}));
}

TEST(RebalancePlan, DropsReplicasOutsideTheTargetOnlyOnceTheTargetIsInSync) {
  auto s = shard_ranked({"a", "b", "c", "d"}, {"d"});
  auto target = shard_map::compute({"a", "b", "c", "d"}).ranking(s, 3);
  std::string out_of_target;
  for (const auto& m : {"a", "b", "c"})
    if (!listed(target, m))
      out_of_target = m;
  std::vector<std::string> replicas{"a", "b", "c", "d"};
  auto isr = replicas;
  std::erase(isr, target[1]); // the old owner, catching up again
  auto t = one_shard(s, {8, "d", replicas, isr});
  auto out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings());
  EXPECT_TRUE(out.plan.changes.empty());
  t.at(s).value.isr = replicas;
  out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings());
  ASSERT_EQ(out.plan.changes.size(), 1u);
  const auto& next = out.plan.changes[0].next;
  EXPECT_EQ(next.replicas, target);
  EXPECT_EQ(next.isr, target);
  EXPECT_FALSE(listed(next.replicas, out_of_target));
  EXPECT_EQ(next.epoch, 8u);
  EXPECT_EQ(next.owner, "d");
  EXPECT_EQ(out.dropped, 1u);
  EXPECT_EQ(out.unbalanced, 0u);
  EXPECT_EQ(out.in_motion, 0u);
}

TEST(RebalancePlan, WaitsWhileAShardHasNoLiveOwnerOrAReplicaIsNotLive) {
  auto t = settled_table({"a", "b", "c"}, 3);
  auto out = rebalance_plan(test_keys, t, {"a", "b", "d"}, settings());
  EXPECT_TRUE(out.plan.changes.empty());
  EXPECT_NE(out.waiting.find("'c'"), std::string::npos) << out.waiting;
  t.at(5).value.owner.clear();
  out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings());
  EXPECT_TRUE(out.plan.changes.empty());
  EXPECT_EQ(out.waiting, "shard 5 has no owner");
  EXPECT_FALSE(rebalance_plan(test_keys, t, {}, settings()).waiting.empty());
  t = settled_table({"a", "b", "c"}, 3);
  out = rebalance_plan(test_keys, t, {"a", "b", "c", "d"}, settings(0));
  EXPECT_TRUE(out.plan.changes.empty());
  EXPECT_EQ(out.waiting, "rebalance turned off");
}

std::size_t count_in_motion(const shard_table& t, std::size_t target_size) {
  std::size_t n = 0;
  for (const auto& [shard, e] : t)
    n += e.value.isr.size() < e.value.replicas.size()
         || e.value.replicas.size() > target_size;
  return n;
}

/// Rounds of the plan until nothing is in motion and it plans nothing,
/// followers catching up in between (a replica outside the isr joins it);
/// checks the rules after each round. Returns the rounds taken.
int simulate(shard_table& t, const std::vector<std::string>& hosting,
             const rebalance_settings& rs) {
  auto size = std::min(rs.replication_factor, hosting.size());
  int rounds = 0;
  for (; rounds < 500; ++rounds) {
    auto before = count_in_motion(t, size);
    auto out = rebalance_plan(test_keys, t, hosting, rs);
    EXPECT_TRUE(out.waiting.empty()) << out.waiting;
    EXPECT_TRUE(out.plan.refused.empty());
    // Nothing starts past the limit (a failover may have put more there).
    EXPECT_LE(out.in_motion, std::max(before, rs.max_in_motion));
    if (out.plan.changes.empty() && before == 0)
      break;
    for (const auto& c : out.plan.changes) {
      auto& now = t.at(c.shard);
      const auto& next = c.next;
      EXPECT_EQ(c.expected_mod_revision, now.mod_revision);
      EXPECT_TRUE(listed(next.isr, next.owner)) << "the owner is in the isr";
      EXPECT_TRUE(listed(now.value.isr, next.owner))
          << "no member outside the isr becomes owner";
      EXPECT_GE(next.isr.size(), std::min(rs.min_insync, next.replicas.size()));
      if (next.owner != now.value.owner)
        EXPECT_EQ(next.epoch, now.value.epoch + 1);
      else
        EXPECT_EQ(next.epoch, now.value.epoch);
      for (const auto& m : next.isr)
        EXPECT_TRUE(listed(now.value.isr, m)) << "nobody joins the isr here";
      now = {next, now.mod_revision + 1};
    }
    EXPECT_EQ(count_in_motion(t, size), out.in_motion);
    for (auto& [shard, e] : t)
      e.value.isr = e.value.replicas; // followers catch up before the next
  }
  return rounds;
}

void expect_balanced(const shard_table& t,
                     const std::vector<std::string>& hosting, std::size_t r) {
  auto map = shard_map::compute(hosting);
  for (const auto& [shard, e] : t) {
    auto target = map.ranking(shard, r);
    EXPECT_EQ(e.value.owner, target.front());
    EXPECT_EQ(e.value.replicas.size(), target.size());
    for (const auto& m : target)
      EXPECT_TRUE(listed(e.value.replicas, m));
  }
}

TEST(RebalancePlan, ScaleOutFromTwoToThreeMembersEndsBalancedAThirdEach) {
  // R = 3 on two members, then c joins: grow_plan adds c everywhere, the
  // rebalance moves a third of the owners to it.
  auto t = settled_table({"a", "b"}, 3);
  auto grown = grow_plan(test_keys, t, {"a", "b", "c"}, 3);
  for (const auto& c : grown.changes)
    t[c.shard] = {c.next, 9};
  for (auto& [shard, e] : t)
    e.value.isr = e.value.replicas;
  auto rounds = simulate(t, {"a", "b", "c"}, settings(32));
  expect_balanced(t, {"a", "b", "c"}, 3);
  std::map<std::string, int> owned;
  for (const auto& [shard, e] : t)
    ++owned[e.value.owner];
  EXPECT_GT(owned["c"], 290);
  EXPECT_LT(owned["c"], 400);
  // About 340 owner moves, 32 at a time.
  EXPECT_GE(rounds, owned["c"] / 32);
}

TEST(RebalancePlan, ScaleOutFromThreeToFourAndBackAfterAFailoverEndBalanced) {
  auto t = settled_table({"a", "b", "c"}, 3);
  simulate(t, {"a", "b", "c", "d"}, settings(32));
  expect_balanced(t, {"a", "b", "c", "d"}, 3);
  // b fails over and comes back: its shards move back to it.
  for (auto& [shard, e] : t) {
    auto& a = e.value;
    std::erase(a.isr, "b");
    if (a.owner == "b") {
      a.owner = a.isr.front();
      ++a.epoch;
    }
  }
  simulate(t, {"a", "b", "c", "d"}, settings(32));
  expect_balanced(t, {"a", "b", "c", "d"}, 3);
  // R = 2, min_insync = 2 (spares needed for every owner move).
  t = settled_table({"a", "b", "c"}, 2);
  simulate(t, {"a", "b", "c", "d"}, settings(16, 2, 2));
  expect_balanced(t, {"a", "b", "c", "d"}, 2);
}

} // namespace
} // namespace sluice::cluster
