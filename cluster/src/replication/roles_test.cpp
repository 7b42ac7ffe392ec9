// The role planner: owner, failover, demotion and dropped copies.
#include "replication/roles.hpp"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

shard_entry entry(std::uint64_t epoch, std::string owner,
                  std::vector<std::string> replicas,
                  std::vector<std::string> isr) {
  return {shard_assignment{epoch, std::move(owner), std::move(replicas),
                           std::move(isr)},
          1};
}

using shards = std::vector<std::uint32_t>;

TEST(Roles, AFirstAssignmentIsClaimedAndAFollowerWaitsForItsSnapshot) {
  shard_table t;
  t[1] = entry(1, "a", {"a", "b"}, {"a"});
  t[2] = entry(1, "b", {"b", "a"}, {"b"});
  auto a = plan_roles(t, "a", {});
  EXPECT_EQ(a.claim[1], shards{1});
  EXPECT_TRUE(a.claimed_empty.empty()); // a first assignment: nothing lost
  EXPECT_TRUE(a.promote.empty());
  EXPECT_TRUE(a.demote.empty());
  EXPECT_TRUE(a.drop_copies.empty());
}

TEST(Roles, AFailoverToThisMemberPromotesItsCopy) {
  shard_table t;
  t[4] = entry(3, "b", {"a", "b", "c"}, {"b", "c"});
  local_shards l;
  l.copies[4] = {2, 17};
  auto r = plan_roles(t, "b", l);
  EXPECT_EQ(r.promote[3], shards{4});
  EXPECT_TRUE(r.claim.empty());
}

TEST(Roles, AnOwnerWhoseShardMovedOnGivesItUp) {
  shard_table t;
  t[4] = entry(3, "b", {"a", "b", "c"}, {"b", "c"});
  local_shards l;
  l.owned[4] = 2;
  auto r = plan_roles(t, "a", l);
  EXPECT_EQ(r.demote, shards{4});
  // The same epoch with another owner is not ours either.
  l.owned[4] = 3;
  EXPECT_EQ(plan_roles(t, "a", l).demote, shards{4});
}

// A failover kept the dead owner a in the isr (at min_insync it would not
// go below). Back, a must not drop its records while the isr lists it: a
// later failover to a would find nothing, and c, seeing a newer owner,
// would drop the only other copy (data lost on every member). It leaves
// the isr first, keeping everything; once out, it gives the shard up.
TEST(Roles, AFormerOwnerStillInTheIsrLeavesItBeforeDroppingItsRecords) {
  shard_table t;
  t[7] = entry(6, "c", {"a", "b", "c"}, {"a", "c"});
  local_shards l;
  l.owned[7] = 5;
  auto listed = plan_roles(t, "a", l);
  EXPECT_EQ(listed.leave_isr, shards{7});
  EXPECT_TRUE(listed.demote.empty());
  EXPECT_FALSE(listed.empty());
  t[7] = entry(6, "c", {"a", "b", "c"}, {"c"});
  auto out = plan_roles(t, "a", l);
  EXPECT_EQ(out.demote, shards{7});
  EXPECT_TRUE(out.leave_isr.empty());
}

// A lone owner with nothing here at a later epoch (its disk wiped, no
// other copy in sync): it claims the shard empty, and says so.
TEST(Roles, ALoneOwnerWithNothingHereAtALaterEpochClaimsItEmptyAndSaysSo) {
  shard_table t;
  t[8] = entry(7, "a", {"a", "b", "c"}, {"a"});
  auto r = plan_roles(t, "a", {});
  EXPECT_EQ(r.claim[7], shards{8});
  EXPECT_EQ(r.claimed_empty, shards{8});
}

TEST(Roles, TheOwnerAtANewerEpochKeepsItsDataAtThatEpoch) {
  shard_table t;
  t[9] = entry(5, "a", {"a", "b"}, {"a"});
  local_shards l;
  l.owned[9] = 4;
  EXPECT_EQ(plan_roles(t, "a", l).claim[5], shards{9});
  l.owned[9] = 5;
  EXPECT_TRUE(plan_roles(t, "a", l).empty());
}

TEST(Roles, ACopyOfAShardNoLongerReplicatedHereIsDropped) {
  shard_table t;
  t[7] = entry(2, "b", {"b", "c"}, {"b", "c"});
  t[8] = entry(2, "b", {"b", "a"}, {"b", "a"});
  local_shards l;
  l.copies[7] = {2, 3};
  l.copies[8] = {2, 3};
  auto r = plan_roles(t, "a", l);
  EXPECT_EQ(r.drop_copies, shards{7});
}

TEST(Roles, ShardsNotInTheTableAreLeftAlone) {
  local_shards l;
  l.owned[1] = 1;
  l.copies[2] = {1, 1};
  EXPECT_TRUE(plan_roles({}, "a", l).empty());
}

TEST(Roles, AnOwnerThatLostItsDataGivesItsShardsToTheInSyncCopies) {
  shard_table t;
  t[3] = entry(1, "c", {"c", "a", "b"}, {"c", "a", "b"});
  t[4] = entry(1, "c", {"c", "a"}, {"c"});
  auto r = plan_roles(t, "c", {}); // an empty data directory
  EXPECT_EQ(r.resign, shards{3});
  EXPECT_EQ(r.claim[1], shards{4}); // the only copy: nothing to keep
}

TEST(Roles, AFencedShardWithoutOwnerKeepsItsDataHere) {
  // The owner was the last in-sync copy and was cut off: the controller
  // fenced the shard (no owner, epoch + 1) until an isr member is back.
  shard_table t;
  t[6] = entry(2, "", {"c", "a", "b"}, {"c"});
  local_shards l;
  l.owned[6] = 1;
  EXPECT_TRUE(plan_roles(t, "c", l).empty());
  // Given back to it at the next epoch: it keeps its data at that epoch.
  t[6] = entry(3, "c", {"c", "a", "b"}, {"c"});
  EXPECT_EQ(plan_roles(t, "c", l).claim[3], shards{6});
}

} // namespace
} // namespace sluice::cluster
