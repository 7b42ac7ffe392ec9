// The table read key by key and kept up to date by watch events: a bad key
// costs only itself, a proxy hosts no shards, the controller key is seen.
#include "controller/table_snapshot.hpp"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

const controller_keys k = *controller_keys::make("snap");

etcd_kv kv(std::string key, std::string value, std::int64_t revision) {
  return {std::move(key), std::move(value), revision, revision, 1, 0};
}

TEST(TableSnapshot, ReadsMembersShardsAndTheControllerSkippingBadKeys) {
  shard_assignment a{2, "n1", {"n1", "n2"}, {"n1"}};
  etcd_range range{
      50,
      {kv(k.controller(), "n1", 3),
       kv(k.member("n1"), encode(member_record{"h:1", 1}), 4),
       kv(k.member("p"), encode(member_record{"h:2", 1, false}), 5),
       kv(k.member("bad"), "{}", 6), kv(k.shard(7), encode(a), 7),
       kv(k.shard(8), "not json", 8), kv(k.shards_prefix() + "x", "{}", 9),
       kv(k.root() + "other", "?", 10)}};
  std::vector<std::string> problems;
  auto s = read_snapshot(k, range, problems);
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
  EXPECT_EQ(problems[0], k.member("bad") + ": 'address' is not a string");
  EXPECT_EQ(problems[1], k.shard(8) + ": not a JSON object");
}

TEST(TableSnapshot, EventsPutAndEraseEachKindAndSayWhatChanged) {
  std::vector<std::string> problems;
  table_snapshot s;
  shard_assignment a{1, "n1", {"n1"}, {"n1"}};
  using kind = etcd_event::kind;
  EXPECT_EQ(apply(s, k, {kind::put, kv(k.shard(3), encode(a), 11)}, problems),
            snapshot_change::shards);
  EXPECT_EQ(s.shards.at(3).mod_revision, 11);
  EXPECT_EQ(s.revision, 11);
  EXPECT_EQ(apply(s, k, {kind::put, kv(k.shard(3), "bad", 12)}, problems),
            snapshot_change::shards);
  EXPECT_FALSE(s.shards.contains(3));
  EXPECT_TRUE(s.unreadable.contains(3));
  EXPECT_EQ(apply(s, k, {kind::erase, kv(k.shard(3), "", 13)}, problems),
            snapshot_change::shards);
  EXPECT_TRUE(s.unreadable.empty());
  EXPECT_EQ(apply(s, k,
                  {kind::put, kv(k.member("n2"), encode(member_record{}), 14)},
                  problems),
            snapshot_change::members);
  EXPECT_EQ(apply(s, k, {kind::erase, kv(k.member("n2"), "", 15)}, problems),
            snapshot_change::members);
  EXPECT_TRUE(s.members.empty());
  EXPECT_EQ(apply(s, k, {kind::erase, kv(k.member("n9"), "", 16)}, problems),
            snapshot_change::nothing);
  EXPECT_EQ(apply(s, k, {kind::put, kv(k.controller(), "n2", 17)}, problems),
            snapshot_change::controller);
  EXPECT_TRUE(s.controller);
  EXPECT_EQ(apply(s, k, {kind::erase, kv(k.controller(), "", 18)}, problems),
            snapshot_change::controller);
  EXPECT_FALSE(s.controller);
  EXPECT_EQ(problems.size(), 1u);
}

} // namespace
} // namespace sluice::cluster
