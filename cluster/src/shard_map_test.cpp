#include "shard_map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace sluice::cluster {
namespace {

std::vector<std::string> nodes(int n) {
  std::vector<std::string> result;
  for (int i = 1; i <= n; ++i)
    result.push_back("node-" + std::to_string(i));
  return result;
}

TEST(ShardMap, EveryNodeComputesTheSameMapWhateverTheOrderOfMembers) {
  std::vector<std::string> names{"delta", "alpha", "charlie", "bravo"};
  auto reference = shard_map::compute(names);
  EXPECT_EQ(reference.nodes(),
            (std::vector<std::string>{"alpha", "bravo", "charlie", "delta"}));
  std::sort(names.begin(), names.end());
  do {
    EXPECT_EQ(shard_map::compute(names), reference);
  } while (std::next_permutation(names.begin(), names.end()));
  EXPECT_EQ(shard_map::compute(
                {"bravo", "delta", "alpha", "bravo", "charlie", "alpha"}),
            reference);
  std::set<std::string> owners;
  for (std::uint32_t s = 0; s < shard_count; ++s)
    owners.insert(reference.owner(s));
  EXPECT_EQ(owners.size(), 4u);
}

TEST(ShardMap, AddingANodeToNMovesAboutOneInNPlusOneOfTheShardsAndOnlyToIt) {
  for (int n = 1; n <= 7; ++n) {
    auto before = shard_map::compute(nodes(n));
    auto after = shard_map::compute(nodes(n + 1));
    auto newcomer = "node-" + std::to_string(n + 1);
    auto m = moved(before, after);
    // Exactly the newcomer's shards moved: none moved between old nodes.
    EXPECT_EQ(m, after.shards_of(newcomer)) << "n = " << n;
    for (auto s : m)
      EXPECT_EQ(after.owner(s), newcomer);
    double expected = double(shard_count) / (n + 1);
    EXPECT_GE(double(m.size()), expected * 0.65) << "n = " << n;
    EXPECT_LE(double(m.size()), expected * 1.35) << "n = " << n;
  }
}

TEST(ShardMap, RemovingANodeMovesOnlyItsShards) {
  auto all = nodes(5);
  auto before = shard_map::compute(all);
  for (const auto& gone : all) {
    auto rest = all;
    rest.erase(std::find(rest.begin(), rest.end(), gone));
    auto after = shard_map::compute(rest);
    EXPECT_EQ(moved(before, after), before.shards_of(gone)) << gone;
    EXPECT_TRUE(after.shards_of(gone).empty());
  }
}

TEST(ShardMap, ShardsAreSpreadEvenly) {
  for (int n : {3, 4, 8}) {
    auto map = shard_map::compute(nodes(n));
    double mean = double(shard_count) / n;
    std::size_t total = 0;
    for (const auto& node : map.nodes()) {
      auto owned = map.shards_of(node);
      total += owned.size();
      EXPECT_TRUE(std::is_sorted(owned.begin(), owned.end()));
      EXPECT_GE(double(owned.size()), mean * 0.75) << node << " of " << n;
      EXPECT_LE(double(owned.size()), mean * 1.25) << node << " of " << n;
    }
    EXPECT_EQ(total, shard_count);
  }
}

TEST(ShardMap, ShardOfIsStableAndInRange) {
  // Computed once with XXH3-64: a change of hash would move data on disk.
  EXPECT_EQ(shard_of(""), 194u);
  EXPECT_EQ(shard_of("npm:left-pad"), 554u);
  EXPECT_EQ(shard_of("pypi:requests"), 600u);
  EXPECT_EQ(shard_of("debian:libc6"), 434u);
  EXPECT_EQ(shard_of("tenant-42"), 15u);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 20000; ++i) {
    auto s = shard_of("key-" + std::to_string(i));
    EXPECT_LT(s, shard_count);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), shard_count);
}

TEST(ShardMap, AnEmptyMapOwnsNothing) {
  auto empty = shard_map::compute({});
  EXPECT_EQ(empty, shard_map{});
  EXPECT_TRUE(empty.nodes().empty());
  for (std::uint32_t s = 0; s < shard_count; ++s)
    EXPECT_EQ(empty.owner(s), "");
  EXPECT_TRUE(empty.shards_of("node-1").empty());
  auto one = shard_map::compute({"node-1"});
  EXPECT_EQ(one.shards_of("node-1").size(), shard_count);
  EXPECT_EQ(moved(empty, one).size(), shard_count);
  EXPECT_TRUE(moved(one, one).empty());
}

TEST(ShardMap, RankingStartsWithTheOwnerAndListsEachNodeOnce) {
  auto map = shard_map::compute(nodes(5));
  for (std::uint32_t s = 0; s < shard_count; ++s) {
    auto all = map.ranking(s, 10);
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[0], map.owner(s));
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 5u);
    auto three = map.ranking(s, 3);
    EXPECT_EQ(three, std::vector<std::string>(all.begin(), all.begin() + 3));
  }
  EXPECT_TRUE(shard_map{}.ranking(7, 3).empty());
}

TEST(ShardMap, RankingWithoutANodeIsTheRankingWithItLeftOut) {
  // What replacing a lost replica relies on: the next in the ranking is
  // the same whether computed with or without the lost node.
  auto all = shard_map::compute(nodes(5));
  auto names = nodes(5);
  names.erase(names.begin() + 2); // node-3
  auto without = shard_map::compute(names);
  for (std::uint32_t s = 0; s < shard_count; ++s) {
    auto expected = all.ranking(s, 5);
    expected.erase(std::find(expected.begin(), expected.end(), "node-3"));
    EXPECT_EQ(without.ranking(s, 4), expected) << "shard " << s;
  }
}

TEST(ShardMap, FromOwnersGivesEachShardTheOwnerNamedAndNoneForAnEmptyName) {
  std::vector<std::string> per(shard_count, "b");
  per[0] = "a";
  per[5] = "";
  auto m = shard_map::from_owners(per);
  EXPECT_EQ(m.owner(0), "a");
  EXPECT_EQ(m.owner(1), "b");
  EXPECT_EQ(m.owner(5), "");
  EXPECT_EQ(m.shards_of("a"), std::vector<std::uint32_t>{0});
  EXPECT_EQ(m.shards_of("b").size(), shard_count - 2);
  EXPECT_TRUE(m == shard_map::from_owners(per));
}

} // namespace
} // namespace sluice::cluster
