// The key layout, the JSON values and their checks, the table read back.
#include "controller/controller_table.hpp"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

controller_keys keys() {
  auto k = controller_keys::make("prod");
  EXPECT_TRUE(k);
  return *k;
}

TEST(ControllerTable, KeysLiveUnderTheClusterAndShardsAreZeroPadded) {
  auto k = keys();
  EXPECT_EQ(k.member("node-1"), "/sluice/prod/members/node-1");
  EXPECT_EQ(k.controller(), "/sluice/prod/controller");
  EXPECT_EQ(k.shard(7), "/sluice/prod/shards/0007");
  EXPECT_EQ(k.shard(1023), "/sluice/prod/shards/1023");
  EXPECT_LT(k.shard(99), k.shard(100)); // keys sort by shard
  auto back = k.shard_of("/sluice/prod/shards/0042");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, 42u);
  for (auto bad : {"/sluice/prod/shards/42", "/sluice/prod/shards/1024",
                   "/sluice/prod/shards/00x1", "/sluice/other/shards/0001"})
    EXPECT_FALSE(k.shard_of(bad)) << bad;
  auto member = k.member_of("/sluice/prod/members/node-1");
  ASSERT_TRUE(member);
  EXPECT_EQ(*member, "node-1");
}

TEST(ControllerTable, BadClusterAndMemberNamesAreRefusedWithTheName) {
  auto slash = controller_keys::make("a/b");
  ASSERT_FALSE(slash);
  EXPECT_EQ(slash.error().code, errc::invalid_argument);
  EXPECT_EQ(slash.error().message,
            "cluster name 'a/b' has a '/', a space or a control character");
  EXPECT_FALSE(controller_keys::make(""));
  EXPECT_FALSE(controller_keys::make(std::string(201, 'x')));
  EXPECT_FALSE(keys().member_of("/sluice/prod/members/"));
}

TEST(ControllerTable, AnAssignmentRoundTripsThroughJson) {
  shard_assignment a{3, "b", {"a", "b", "c"}, {"b", "c"}};
  EXPECT_EQ(
      encode(a),
      R"({"epoch":3,"isr":["b","c"],"owner":"b","replicas":["a","b","c"]})");
  auto back = decode_assignment(encode(a));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, a);
  auto newer = decode_assignment(
      R"({"epoch":1,"owner":"","replicas":["a"],"isr":[],"later":true})");
  ASSERT_TRUE(newer);
  EXPECT_TRUE(newer->owner.empty());
}

TEST(ControllerTable, TheIsrFloorIsMinInsyncCappedByTheReplicasAndAtLeastOne) {
  EXPECT_EQ(isr_floor(2, 3), 2u);
  EXPECT_EQ(isr_floor(3, 3), 3u);
  EXPECT_EQ(isr_floor(1, 3), 1u);
  // Fewer replicas than min_insync (a shard not yet grown): all of them.
  EXPECT_EQ(isr_floor(3, 2), 2u);
  EXPECT_EQ(isr_floor(2, 1), 1u);
  // Never 0: an owner alone still counts itself.
  EXPECT_EQ(isr_floor(0, 3), 1u);
  EXPECT_EQ(isr_floor(2, 0), 1u);
}

TEST(ControllerTable, AssignmentsBreakingTheRulesDoNotDecode) {
  auto why = [](std::string_view text) {
    auto a = decode_assignment(text);
    EXPECT_FALSE(a) << text;
    return a ? std::string() : a.error().message;
  };
  EXPECT_EQ(why(R"({"epoch":1,"owner":"x","replicas":["a","x"],"isr":["a"]})"),
            "owner 'x' is not in the isr");
  EXPECT_EQ(why(R"({"epoch":1,"owner":"a","replicas":["a"],"isr":["a","z"]})"),
            "isr member 'z' is not a replica");
  EXPECT_EQ(why(R"({"epoch":0,"owner":"a","replicas":["a"],"isr":["a"]})"),
            "epoch 0 (the first is 1)");
  EXPECT_EQ(why(R"({"epoch":1,"owner":"a","replicas":["a","a"],"isr":["a"]})"),
            "replica 'a' appears twice");
  EXPECT_EQ(why(R"({"epoch":-1,"owner":"a","replicas":["a"],"isr":["a"]})"),
            "'epoch' is not a positive integer");
  EXPECT_EQ(why(R"({"epoch":1,"owner":"a","replicas":"a","isr":["a"]})"),
            "'replicas' is not a list");
  EXPECT_EQ(why("not json"), "not a JSON object");
}

TEST(ControllerTable, TheTableReadsBackFromARangeAndNamesABadKey) {
  auto k = keys();
  etcd_range range{
      9,
      {{k.shard(1), encode(shard_assignment{2, "a", {"a"}, {"a"}}), 3, 8, 2, 0},
       {k.shard(5), encode(shard_assignment{1, "b", {"b"}, {"b"}}), 4, 4, 1,
        0}}};
  auto table = read_shard_table(k, range);
  ASSERT_TRUE(table) << table.error().describe();
  ASSERT_EQ(table->size(), 2u);
  EXPECT_EQ(table->at(1).mod_revision, 8);
  EXPECT_EQ(table->at(5).value.owner, "b");
  range.kvs.push_back({k.shard(6), "{}", 5, 5, 1, 0});
  auto bad = read_shard_table(k, range);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "/sluice/prod/shards/0006: 'epoch' is not a positive integer");
}

TEST(ControllerTable, MembersReadBackWithTheirRecords) {
  auto k = keys();
  member_record m{"127.0.0.1:7001", 4};
  etcd_range range{3, {{k.member("n1"), encode(m), 2, 2, 1, 77}}};
  auto members = read_members(k, range);
  ASSERT_TRUE(members);
  EXPECT_EQ(members->at("n1"), m);
  range.kvs[0].value = R"({"address":"x"})";
  EXPECT_FALSE(read_members(k, range));
}

TEST(ControllerTable, AProxyRecordSaysItHostsNoShardsAndOldRecordsDo) {
  member_record proxy{"127.0.0.1:7002", 1, false};
  EXPECT_EQ(encode(proxy), R"({"address":"127.0.0.1:7002","hosts_shards":)"
                           R"(false,"incarnation":1})");
  EXPECT_EQ(*decode_member(encode(proxy)), proxy);
  auto old = decode_member(R"({"address":"h:1","incarnation":2})");
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->hosts_shards);
  auto bad = decode_member(R"({"address":"h:1","incarnation":2,)"
                           R"("hosts_shards":"no"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "'hosts_shards' is not true or false");
}

} // namespace
} // namespace sluice::cluster
