// The controller's decisions against their safety rules: an owner is always
// a live isr member, the epoch grows with every owner change, no unclean
// election, and every change is a compare-and-swap on the shard's revision.
#include "controller/assignment_plan.hpp"
#include "controller/plan_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "shard_map.hpp"

namespace sluice::cluster {
namespace {

using plan_testing::one_shard;
using plan_testing::test_keys;

TEST(AssignmentPlan, InitialReplicasAreTheFirstROfTheRankingAndTheOwnerAlone) {
  std::vector<std::string> members{"n1", "n2", "n3", "n4"};
  auto plan = initial_plan(test_keys, {}, members, 3);
  ASSERT_TRUE(plan) << plan.error().describe();
  auto map = shard_map::compute(members);
  ASSERT_EQ(plan->changes.size(), shard_count);
  for (const auto& c : plan->changes) {
    EXPECT_EQ(c.expected_mod_revision, 0); // the key must not exist
    EXPECT_EQ(c.next.epoch, 1u);
    EXPECT_EQ(c.next.replicas, map.ranking(c.shard, 3));
    EXPECT_EQ(c.next.owner, map.owner(c.shard));
    EXPECT_EQ(c.next.isr, std::vector<std::string>{c.next.owner});
  }
  EXPECT_TRUE(plan->under_replicated.empty());
  // 1,024 shards in txns of at most 128 operations per list.
  ASSERT_EQ(plan->txns.size(), 8u);
  for (const auto& txn : plan->txns) {
    EXPECT_EQ(txn.compare.size(), 128u);
    EXPECT_EQ(txn.success.size(), 128u);
    EXPECT_EQ(txn.failure.size(), 128u);
  }
  const auto& first = plan->txns[0];
  EXPECT_EQ(first.compare[5].key, test_keys.shard(5));
  EXPECT_EQ(first.compare[5].what, etcd_compare::target::mod_revision);
  EXPECT_EQ(first.compare[5].number, 0);
  EXPECT_EQ(first.success[5].what, etcd_op::kind::put);
  EXPECT_EQ(*decode_assignment(first.success[5].value), plan->changes[5].next);
  EXPECT_EQ(first.failure[5].what, etcd_op::kind::range);
}

TEST(AssignmentPlan, InitialWithFewerMembersThanRUsesThemAllAndSaysSo) {
  auto plan = initial_plan(test_keys, {}, {"n1", "n2"}, 3);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->under_replicated.size(), shard_count);
  for (const auto& c : plan->changes)
    EXPECT_EQ(c.next.replicas.size(), 2u);
}

TEST(AssignmentPlan, InitialSkipsAssignedShardsAndRefusesBadInput) {
  auto plan = initial_plan(test_keys, one_shard(3, {4, "n2", {"n2"}, {"n2"}}),
                           {"n1", "n2"}, 1);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->changes.size(), shard_count - 1);
  EXPECT_TRUE(std::none_of(plan->changes.begin(), plan->changes.end(),
                           [](const auto& c) { return c.shard == 3; }));
  EXPECT_EQ(initial_plan(test_keys, {}, {}, 3).error().message,
            "no member to assign shards to");
  EXPECT_EQ(initial_plan(test_keys, {}, {"n1"}, 0).error().message,
            "replication factor 0 (at least 1)");
  EXPECT_FALSE(initial_plan(test_keys, {}, {"n/1"}, 1));
}

TEST(AssignmentPlan, FailoverPromotesTheLiveIsrMemberWithTheHighestPosition) {
  auto table = one_shard(9, {5, "a", {"a", "b", "c"}, {"a", "b", "c"}});
  replica_positions pos{{{9, "b"}, {5, 10}}, {{9, "c"}, {5, 12}}};
  auto plan = failover_plan(test_keys, table, {"b", "c"}, pos, 1);
  ASSERT_EQ(plan.changes.size(), 1u);
  const auto& c = plan.changes[0];
  EXPECT_EQ(c.expected_mod_revision, 40);
  EXPECT_EQ(c.next, (shard_assignment{6, "c", {"a", "b", "c"}, {"b", "c"}}));
  EXPECT_TRUE(plan.without_owner.empty());
  ASSERT_EQ(plan.txns.size(), 1u);
  EXPECT_EQ(plan.txns[0].compare[0].number, 40);
}

TEST(AssignmentPlan, FailoverTiesGoToTheEarlierReplica) {
  auto table = one_shard(9, {5, "a", {"a", "c", "b"}, {"a", "b", "c"}});
  auto plan = failover_plan(test_keys, table, {"b", "c"}, {}, 1);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].next.owner, "c");
}

TEST(AssignmentPlan, FailoverNeverPromotesAMemberOutsideTheIsr) {
  // c is live and further ahead, but not in the isr: it may lack
  // acknowledged records.
  auto table = one_shard(2, {5, "a", {"a", "b", "c"}, {"a", "b"}});
  replica_positions pos{{{2, "b"}, {5, 3}}, {{2, "c"}, {5, 99}}};
  auto plan = failover_plan(test_keys, table, {"b", "c"}, pos, 1);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].next.owner, "b");
  EXPECT_EQ(plan.changes[0].next.isr, std::vector<std::string>{"b"});
}

// The isr {a, b} at min_insync 2 and a dies: b takes over, and a stays in
// the isr (b cannot acknowledge without a second copy anyway). Should b's
// own copy be gone (a wiped disk), a still holds every acknowledged record.
TEST(AssignmentPlan, AFailoverKeepsDeadIsrMembersRatherThanGoBelowMinInsync) {
  auto table = one_shard(2, {5, "a", {"a", "b", "c"}, {"a", "b"}});
  auto plan = failover_plan(test_keys, table, {"b", "c"}, {}, 2);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].next,
            (shard_assignment{6, "b", {"a", "b", "c"}, {"a", "b"}}));
  // With three in the isr, the dead one leaves it.
  auto three = one_shard(2, {5, "a", {"a", "b", "c"}, {"a", "b", "c"}});
  auto p3 = failover_plan(test_keys, three, {"b", "c"}, {}, 2);
  ASSERT_EQ(p3.changes.size(), 1u);
  EXPECT_EQ(p3.changes[0].next.isr, (std::vector<std::string>{"b", "c"}));
}

// Back after that failover, a leaves the isr before it drops its records
// (plan_roles' leave_isr): only shards it does not own and is listed in.
TEST(AssignmentPlan, AFormerOwnerLeavesTheIsrOfTheShardsItGivesUp) {
  auto table = one_shard(2, {6, "b", {"a", "b", "c"}, {"a", "b"}}, 31);
  table[3] = {{4, "a", {"a", "b", "c"}, {"a", "b"}}, 32}; // a owns it
  table[5] = {{7, "c", {"a", "b", "c"}, {"b", "c"}}, 33}; // a not listed
  auto plan = leave_isr_plan(test_keys, table, "a", {2, 3, 5, 9});
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].shard, 2u);
  EXPECT_EQ(plan.changes[0].expected_mod_revision, 31);
  EXPECT_EQ(plan.changes[0].next,
            (shard_assignment{6, "b", {"a", "b", "c"}, {"b"}}));
  EXPECT_EQ(plan.txns.size(), 1u);
  // Planning again from the written table changes nothing.
  auto again = leave_isr_plan(test_keys, one_shard(2, plan.changes[0].next, 40),
                              "a", {2});
  EXPECT_TRUE(again.changes.empty());
}

TEST(AssignmentPlan, AnIsrWithoutLiveMembersLeavesTheShardWithoutOwner) {
  auto table = one_shard(4, {5, "a", {"a", "b", "c"}, {"a", "b"}});
  auto plan = failover_plan(test_keys, table, {"c"}, {}, 1);
  ASSERT_EQ(plan.changes.size(), 1u);
  auto next = plan.changes[0].next;
  // Fenced at a new epoch; the isr kept: a and b hold what was acknowledged.
  EXPECT_EQ(next, (shard_assignment{6, "", {"a", "b", "c"}, {"a", "b"}}));
  EXPECT_EQ(plan.without_owner, std::vector<std::uint32_t>{4});
  // Planning again changes nothing and still says so.
  auto again = failover_plan(test_keys, one_shard(4, next, 41), {"c"}, {}, 1);
  EXPECT_TRUE(again.changes.empty());
  EXPECT_EQ(again.without_owner, std::vector<std::uint32_t>{4});
  // b comes back: it takes the shard at a newer epoch.
  auto back =
      failover_plan(test_keys, one_shard(4, next, 41), {"b", "c"}, {}, 1);
  ASSERT_EQ(back.changes.size(), 1u);
  EXPECT_EQ(back.changes[0].next,
            (shard_assignment{7, "b", {"a", "b", "c"}, {"b"}}));
}

TEST(AssignmentPlan, FailoverLeavesShardsWithALiveOwnerAlone) {
  auto table = one_shard(1, {5, "a", {"a", "b"}, {"a", "b"}});
  auto plan =
      failover_plan(test_keys, table, {"a"}, {}, 1); // b dead: the owner's call
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_TRUE(plan.txns.empty());
}

TEST(AssignmentPlan, RandomFailoversKeepEveryRule) {
  std::mt19937 rng{14};
  const std::vector<std::string> names{"a", "b", "c", "d", "e"};
  for (int round = 0; round < 2000; ++round) {
    shard_table table;
    replica_positions pos;
    for (std::uint32_t s = 0; s < 8; ++s) {
      shard_assignment a;
      a.epoch = 1 + rng() % 9;
      for (const auto& n : names)
        if (rng() % 2 == 0)
          a.replicas.push_back(n);
      if (a.replicas.empty())
        a.replicas.push_back("a");
      for (const auto& n : a.replicas)
        if (rng() % 3 != 0)
          a.isr.push_back(n);
      if (!a.isr.empty() && rng() % 5 != 0)
        a.owner = a.isr[rng() % a.isr.size()];
      ASSERT_TRUE(check(a));
      for (const auto& n : a.replicas)
        pos[{s, n}] = {a.epoch, rng() % 4};
      table[s] = {a, 10 + s};
    }
    std::set<std::string> live;
    for (const auto& n : names)
      if (rng() % 2 == 0)
        live.insert(n);
    std::size_t min_insync = 1 + rng() % 3;
    auto plan = failover_plan(test_keys, table, live, pos, min_insync);
    for (const auto& c : plan.changes) {
      const auto& old = table.at(c.shard).value;
      const auto& next = c.next;
      ASSERT_TRUE(check(next)) << check(next).error().message;
      EXPECT_EQ(c.expected_mod_revision, table.at(c.shard).mod_revision);
      EXPECT_GE(next.epoch, old.epoch);
      if (next.owner != old.owner) {
        EXPECT_GT(next.epoch, old.epoch);
      }
      EXPECT_TRUE(next.owner.empty() || live.contains(next.owner));
      EXPECT_TRUE(next.owner.empty() || listed(old.isr, next.owner));
      EXPECT_TRUE(next.owner.empty() || !next.isr.empty());
      for (const auto& m : next.isr)
        EXPECT_TRUE(listed(old.isr, m)) << "the isr never grows in a failover";
      // Dead members leave it only down to min_insync.
      EXPECT_GE(next.isr.size(), std::min(old.isr.size(), min_insync));
      if (next.isr.size() > min_insync && !next.owner.empty()) {
        for (const auto& m : next.isr) {
          EXPECT_TRUE(live.contains(m)) << "a dead member kept needlessly";
        }
      }
      EXPECT_EQ(next.replicas, old.replicas);
      // The best live isr member: nobody live in the old isr is ahead.
      for (const auto& m : old.isr)
        if (live.contains(m) && !next.owner.empty()) {
          auto mine = pos[{c.shard, m}];
          auto owners = pos[{c.shard, next.owner}];
          EXPECT_LE(mine, owners);
        }
    }
    for (auto s : plan.without_owner) {
      const auto& isr = table.at(s).value.isr;
      EXPECT_TRUE(std::none_of(isr.begin(), isr.end(), [&](const auto& m) {
        return live.contains(m);
      }));
    }
  }
}

isr_request ask(std::string requester, std::string member,
                replica_position member_pos, replica_position owner_pos,
                std::uint64_t max_lag = 0) {
  return {
      7,      std::move(requester), std::move(member), member_pos, owner_pos,
      max_lag};
}

TEST(AssignmentPlan, TheOwnerAddsOnlyACaughtUpReplicaToTheIsr) {
  auto table = one_shard(7, {3, "b", {"a", "b", "c"}, {"b"}});
  auto plan = isr_add_plan(test_keys, table, ask("b", "c", {3, 50}, {3, 50}));
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].next,
            (shard_assignment{3, "b", {"a", "b", "c"}, {"b", "c"}}));
  EXPECT_EQ(plan->changes[0].expected_mod_revision, 40);
  auto behind = isr_add_plan(test_keys, table, ask("b", "c", {3, 49}, {3, 50}));
  ASSERT_FALSE(behind);
  EXPECT_EQ(behind.error().message,
            "shard 7: 'c' has not caught up (at 3/49, owner at 3/50)");
  auto old_epoch =
      isr_add_plan(test_keys, table, ask("b", "c", {2, 90}, {3, 50}));
  EXPECT_FALSE(old_epoch);
  auto not_owner =
      isr_add_plan(test_keys, table, ask("a", "c", {3, 50}, {3, 50}));
  ASSERT_FALSE(not_owner);
  EXPECT_EQ(not_owner.error().message,
            "shard 7: 'a' is not its owner (the owner is 'b' at epoch 3)");
  // Asked at an earlier epoch of the same owner (a late request): the
  // positions compared are that epoch's.
  auto late = isr_add_plan(test_keys, table, ask("b", "c", {2, 90}, {2, 90}));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message,
            "shard 7: 'c' was asked for at epoch 2; the shard is at epoch 3");
  EXPECT_FALSE(isr_add_plan(test_keys, table, ask("b", "z", {3, 50}, {3, 50})));
  EXPECT_FALSE(isr_add_plan(test_keys, table, ask("b", "b", {3, 50}, {3, 50})));
}

TEST(AssignmentPlan, TheOwnerRemovesOnlyALaggingFollowerAndNeverItself) {
  auto table = one_shard(7, {3, "b", {"a", "b", "c"}, {"a", "b", "c"}});
  auto plan =
      isr_remove_plan(test_keys, table, ask("b", "a", {3, 10}, {3, 111}, 100));
  ASSERT_TRUE(plan) << plan.error().describe();
  EXPECT_EQ(plan->changes[0].next.isr, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(plan->changes[0].next.epoch, 3u);
  auto close =
      isr_remove_plan(test_keys, table, ask("b", "a", {3, 11}, {3, 111}, 100));
  ASSERT_FALSE(close);
  EXPECT_EQ(close.error().message, "shard 7: 'a' is not lagging");
  EXPECT_TRUE(
      isr_remove_plan(test_keys, table, ask("b", "a", {2, 111}, {3, 111})));
  auto self =
      isr_remove_plan(test_keys, table, ask("b", "b", {0, 0}, {3, 111}));
  ASSERT_FALSE(self);
  EXPECT_EQ(self.error().message, "shard 7: 'b' is the owner");
  auto ownerless = one_shard(7, {3, "", {"a", "b"}, {"a", "b"}});
  EXPECT_FALSE(
      isr_remove_plan(test_keys, ownerless, ask("", "a", {0, 0}, {3, 9})));
}

TEST(AssignmentPlan, AForgottenReplicaIsReplacedByTheNextInTheRanking) {
  std::set<std::string> live{"n1", "n2", "n4", "n5"};
  auto ranking = shard_map::compute({"n1", "n2", "n3", "n4", "n5"});
  shard_table table;
  for (std::uint32_t s = 0; s < 32; ++s) {
    auto replicas = ranking.ranking(s, 3);
    table[s] = {{2, replicas[0], replicas, replicas}, 5};
  }
  auto plan = replacement_plan(test_keys, table, "n3", live, 3, {}, false);
  ASSERT_TRUE(plan) << plan.error().describe();
  for (const auto& c : plan->changes) {
    auto expected = ranking.ranking(c.shard, 5);
    const auto& old = table.at(c.shard).value;
    EXPECT_TRUE(listed(old.replicas, "n3"));
    EXPECT_FALSE(listed(c.next.replicas, "n3"));
    EXPECT_FALSE(listed(c.next.isr, "n3"));
    ASSERT_EQ(c.next.replicas.size(), 3u);
    // The newcomer is the best-ranked live member not yet a replica, and is
    // not in the isr until it caught up.
    std::string newcomer = c.next.replicas.back();
    EXPECT_FALSE(listed(old.replicas, newcomer));
    EXPECT_FALSE(listed(c.next.isr, newcomer));
    for (const auto& m : expected) {
      if (m == newcomer)
        break;
      EXPECT_TRUE(listed(old.replicas, m)) << m << " ranks before " << newcomer;
    }
    if (old.owner == "n3") {
      EXPECT_GT(c.next.epoch, old.epoch);
      EXPECT_TRUE(listed(old.isr, c.next.owner));
    } else {
      EXPECT_EQ(c.next.owner, old.owner);
      EXPECT_EQ(c.next.epoch, old.epoch);
    }
    EXPECT_TRUE(check(c.next));
  }
  EXPECT_FALSE(plan->changes.empty());
  EXPECT_TRUE(plan->refused.empty());
}

TEST(AssignmentPlan, ForgettingTheLastInSyncCopyIsRefusedUnlessLossIsAllowed) {
  auto table = one_shard(3, {4, "", {"a", "b"}, {"a"}});
  auto refused =
      replacement_plan(test_keys, table, "a", {"b", "c"}, 2, {}, false);
  ASSERT_TRUE(refused);
  EXPECT_TRUE(refused->changes.empty());
  ASSERT_EQ(refused->refused.size(), 1u);
  EXPECT_EQ(refused->refused[0].second,
            "its only in-sync copies were on 'a': allow data loss to restart "
            "it empty");
  auto lossy = replacement_plan(test_keys, table, "a", {"b", "c"}, 2, {}, true);
  ASSERT_TRUE(lossy);
  ASSERT_EQ(lossy->changes.size(), 1u);
  EXPECT_EQ(lossy->changes[0].next,
            (shard_assignment{5, "b", {"b", "c"}, {"b"}}));
  EXPECT_EQ(lossy->data_lost, std::vector<std::uint32_t>{3});
  auto live = replacement_plan(test_keys, table, "b", {"b"}, 2, {}, false);
  ASSERT_FALSE(live);
  EXPECT_EQ(live.error().message,
            "'b' still holds its lease: stop it before forgetting it");
}

TEST(AssignmentPlan, ForgettingADeadOwnerFailsItsShardOver) {
  auto table = one_shard(3, {4, "a", {"a", "b", "c"}, {"a", "b"}});
  auto plan =
      replacement_plan(test_keys, table, "a", {"b", "c", "d"}, 3, {}, false);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->changes.size(), 1u);
  const auto& next = plan->changes[0].next;
  EXPECT_EQ(next.owner, "b");
  EXPECT_EQ(next.epoch, 5u);
  EXPECT_EQ(next.isr, std::vector<std::string>{"b"});
  EXPECT_EQ(next.replicas, (std::vector<std::string>{"b", "c", "d"}));
}

TEST(AssignmentPlan, GrowAppendsTheNextRankedLiveMembersOutsideTheIsr) {
  // Assigned when only n1 and n2 were there; n3 and n4 joined since.
  auto before = shard_map::compute({"n1", "n2"});
  shard_table table;
  for (std::uint32_t s = 0; s < 64; ++s) {
    auto replicas = before.ranking(s, 3);
    table[s] = {{2, replicas[0], replicas, {replicas[0]}}, 10 + s};
  }
  std::vector<std::string> hosting{"n1", "n2", "n3", "n4"};
  auto now = shard_map::compute(hosting);
  auto plan = grow_plan(test_keys, table, hosting, 3);
  ASSERT_EQ(plan.changes.size(), 64u);
  EXPECT_TRUE(plan.under_replicated.empty());
  for (const auto& c : plan.changes) {
    const auto& old = table.at(c.shard).value;
    EXPECT_EQ(c.expected_mod_revision, 10 + c.shard);
    ASSERT_EQ(c.next.replicas.size(), 3u);
    // The old replicas first, in their order; then the best-ranked of the
    // others.
    EXPECT_EQ(c.next.replicas[0], old.replicas[0]);
    EXPECT_EQ(c.next.replicas[1], old.replicas[1]);
    std::string newcomer;
    for (const auto& m : now.ranking(c.shard, 4))
      if (!listed(old.replicas, m)) {
        newcomer = m;
        break;
      }
    EXPECT_EQ(c.next.replicas[2], newcomer);
    EXPECT_EQ(c.next.owner, old.owner);
    EXPECT_EQ(c.next.epoch, old.epoch);
    EXPECT_EQ(c.next.isr, old.isr) << "a newcomer is not in sync yet";
    EXPECT_TRUE(check(c.next));
  }
  ASSERT_EQ(plan.txns.size(), 1u);
  EXPECT_EQ(plan.txns[0].compare.size(), 64u);
}

TEST(AssignmentPlan, GrowNeverGoesBeyondRAndKeepsDeadReplicas) {
  // a is dead (not hosting-live) but keeps its place until forgotten.
  auto table = one_shard(5, {3, "b", {"a", "b", "c"}, {"b", "c"}});
  auto plan = grow_plan(test_keys, table, {"b", "c", "d", "e"}, 3);
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_TRUE(plan.txns.empty());
  // R = 2 with three replicas: nothing removed, nothing added.
  EXPECT_TRUE(grow_plan(test_keys, table, {"b", "c", "d"}, 2).changes.empty());
}

TEST(AssignmentPlan, GrowWithTooFewMembersAddsWhatThereIsAndSaysSo) {
  auto table = one_shard(8, {1, "a", {"a"}, {"a"}});
  auto plan = grow_plan(test_keys, table, {"a", "b"}, 3);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].next,
            (shard_assignment{1, "a", {"a", "b"}, {"a"}}));
  EXPECT_EQ(plan.under_replicated, std::vector<std::uint32_t>{8});
  // Nobody new: nothing to write, still under-replicated.
  auto same =
      grow_plan(test_keys, one_shard(8, plan.changes[0].next), {"a", "b"}, 3);
  EXPECT_TRUE(same.changes.empty());
  EXPECT_EQ(same.under_replicated, std::vector<std::uint32_t>{8});
  EXPECT_TRUE(grow_plan(test_keys, table, {}, 3).changes.empty());
}

TEST(AssignmentPlan, TxnsBatchAtTheGivenSize) {
  std::vector<shard_change> changes;
  for (std::uint32_t s = 0; s < 300; ++s)
    changes.push_back({s, s + 1, {1, "a", {"a"}, {"a"}}});
  auto txns = to_txns(test_keys, changes);
  ASSERT_EQ(txns.size(), 3u);
  EXPECT_EQ(txns[2].compare.size(), 44u);
  EXPECT_EQ(txns[2].compare[0].key, test_keys.shard(256));
  EXPECT_EQ(txns[2].compare[0].number, 257);
  EXPECT_EQ(to_txns(test_keys, changes, 100).size(), 3u);
  EXPECT_TRUE(to_txns(test_keys, {}).empty());
}

} // namespace
} // namespace sluice::cluster
