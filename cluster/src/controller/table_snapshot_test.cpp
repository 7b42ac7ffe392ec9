// The table read key by key and kept up to date by watch events: a bad key
// costs only itself, a proxy hosts no shards, the controller key is seen.
#include "controller/plan_test_support.hpp"
#include "controller/table_snapshot.hpp"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

using plan_testing::test_keys;

etcd_kv kv(std::string key, std::string value, std::int64_t revision) {
  return {std::move(key), std::move(value), revision, revision, 1, 0};
}

TEST(TableSnapshot, ReadsMembersShardsAndTheControllerSkippingBadKeys) {
  shard_assignment a{2, "n1", {"n1", "n2"}, {"n1"}};
  etcd_range range{
      50,
      {kv(test_keys.controller(), "n1", 3),
       kv(test_keys.member("n1"), encode(member_record{"h:1", 1}), 4),
       kv(test_keys.member("p"), encode(member_record{"h:2", 1, false}), 5),
       kv(test_keys.member("bad"), "{}", 6),
       kv(test_keys.shard(7), encode(a), 7),
       kv(test_keys.shard(8), "not json", 8),
       kv(test_keys.shards_prefix() + "x", "{}", 9),
       kv(test_keys.root() + "other", "?", 10)}};
  std::vector<std::string> problems;
  auto s = read_snapshot(test_keys, range, problems);
  EXPECT_EQ(s.revision, 50);
  ASSERT_TRUE(s.controller);
  EXPECT_EQ(s.controller->value, "n1");
  EXPECT_EQ(s.hosting(), std::vector<std::string>{"n1"});
  EXPECT_EQ(s.live(), (std::set<std::string>{"n1", "p"}));
  ASSERT_EQ(s.shards.size(), 1u);
  EXPECT_EQ(s.shards.at(7).value, a);
  EXPECT_EQ(s.shards.at(7).mod_revision, 7);
  EXPECT_EQ(s.unreadable, (std::map<std::uint32_t, std::int64_t>{{8, 8}}));
  ASSERT_EQ(problems.size(), 3u) << testing::PrintToString(problems);
  EXPECT_EQ(problems[0],
            test_keys.member("bad") + ": 'address' is not a string");
  EXPECT_EQ(problems[1], test_keys.shard(8) + ": not a JSON object");
}

TEST(TableSnapshot, EventsPutAndEraseEachKindAndSayWhatChanged) {
  std::vector<std::string> problems;
  table_snapshot s;
  shard_assignment a{1, "n1", {"n1"}, {"n1"}};
  using kind = etcd_event::kind;
  EXPECT_EQ(apply(s, test_keys,
                  {kind::put, kv(test_keys.shard(3), encode(a), 11)}, problems),
            snapshot_change::shards);
  EXPECT_EQ(s.shards.at(3).mod_revision, 11);
  EXPECT_EQ(s.revision, 11);
  EXPECT_EQ(apply(s, test_keys, {kind::put, kv(test_keys.shard(3), "bad", 12)},
                  problems),
            snapshot_change::shards);
  EXPECT_FALSE(s.shards.contains(3));
  EXPECT_TRUE(s.unreadable.contains(3));
  EXPECT_EQ(apply(s, test_keys, {kind::erase, kv(test_keys.shard(3), "", 13)},
                  problems),
            snapshot_change::shards);
  EXPECT_TRUE(s.unreadable.empty());
  EXPECT_EQ(apply(s, test_keys,
                  {kind::put,
                   kv(test_keys.member("n2"), encode(member_record{}), 14)},
                  problems),
            snapshot_change::members);
  EXPECT_EQ(apply(s, test_keys,
                  {kind::erase, kv(test_keys.member("n2"), "", 15)}, problems),
            snapshot_change::members);
  EXPECT_TRUE(s.members.empty());
  EXPECT_EQ(apply(s, test_keys,
                  {kind::erase, kv(test_keys.member("n9"), "", 16)}, problems),
            snapshot_change::nothing);
  EXPECT_EQ(apply(s, test_keys,
                  {kind::put, kv(test_keys.controller(), "n2", 17)}, problems),
            snapshot_change::controller);
  EXPECT_TRUE(s.controller);
  EXPECT_EQ(apply(s, test_keys,
                  {kind::erase, kv(test_keys.controller(), "", 18)}, problems),
            snapshot_change::controller);
  EXPECT_FALSE(s.controller);
  EXPECT_EQ(problems.size(), 1u);
}

} // namespace
} // namespace sluice::cluster
