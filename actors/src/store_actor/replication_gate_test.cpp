// The replication gate answers a commit only once every shard it changed
// has its high-watermark at or above the commit's record, fails those of
// lost shards, and fences the outbox at the decided prefix.
#include "store_actor/replication_gate.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using ticket_list = std::vector<std::uint64_t>;

TEST(ReplicationGate, ACommitWaitsForEveryShardItChanged) {
  replication_gate g;
  auto t = g.hold({{3, 7}, {5, 2}}, 100);
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{3, 7}});
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{5, 1}});
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{5, 4}});
  auto o = g.take();
  EXPECT_EQ(o.released, ticket_list{t});
  EXPECT_EQ(o.fence, 100u);
  EXPECT_EQ(g.waiting(), 0u);
}

TEST(ReplicationGate, AWatermarkNeverGoesBack) {
  replication_gate g;
  g.advance({{3, 9}});
  g.advance({{3, 4}});
  EXPECT_EQ(g.watermark(3), 9u);
  auto t = g.hold({{3, 8}}, 10);
  EXPECT_EQ(g.take().released, ticket_list{t});
}

TEST(ReplicationGate, TheOutboxFenceStopsAtTheOldestCommitStillWaiting) {
  replication_gate g;
  auto a = g.hold({{1, 5}}, 10);
  auto b = g.hold({}, 20); // changed no shard: answered at once
  auto c = g.hold({{2, 3}}, 30);
  auto o = g.take();
  EXPECT_EQ(o.released, ticket_list{b});
  EXPECT_EQ(o.fence, 0u); // a still waits: nothing after it may leave
  g.advance({{2, 3}});
  o = g.take();
  EXPECT_EQ(o.released, ticket_list{c});
  EXPECT_EQ(o.fence, 0u);
  g.advance({{1, 5}});
  o = g.take();
  EXPECT_EQ(o.released, ticket_list{a});
  EXPECT_EQ(o.fence, 30u);
}

TEST(ReplicationGate, CommitsOfALostShardFailAndOthersGoOn) {
  replication_gate g;
  auto a = g.hold({{1, 5}, {2, 1}}, 10);
  auto b = g.hold({{2, 2}}, 20);
  g.lose({1});
  auto o = g.take();
  EXPECT_EQ(o.failed, ticket_list{a});
  EXPECT_TRUE(o.released.empty());
  EXPECT_EQ(o.fence, 10u);
  g.advance({{2, 2}});
  o = g.take();
  EXPECT_EQ(o.released, ticket_list{b});
  EXPECT_EQ(o.fence, 20u);
  // Owned again later: its commits wait for the new watermark.
  g.advance({{1, 0}});
  auto c = g.hold({{1, 6}}, 30);
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{1, 6}});
  EXPECT_EQ(g.take().released, ticket_list{c});
}

TEST(ReplicationGate, EntriesForOtherOwnersHoldTheAnswerButNotTheFence) {
  replication_gate g;
  auto a = g.hold({}, 10, {{1, 4}, {0, 6}});
  auto b = g.hold({}, 20);
  auto o = g.take();
  EXPECT_EQ(o.released, ticket_list{b});
  EXPECT_EQ(o.fence, 20u); // a's entries may leave: that is what it waits for
  g.forwarded({{1, 4}});
  EXPECT_TRUE(g.take().released.empty());
  g.forwarded({{0, 6}, {1, 99}}); // an entry nobody waits for is ignored
  EXPECT_EQ(g.take().released, ticket_list{a});
  EXPECT_EQ(g.waiting(), 0u);
}

TEST(ReplicationGate, ACommitWaitsForBothItsShardsAndItsForwardedEntries) {
  replication_gate g;
  auto a = g.hold({{2, 3}}, 10, {{1, 8}});
  g.forwarded({{1, 8}});
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{2, 3}});
  EXPECT_EQ(g.take().released, ticket_list{a});
}

} // namespace
} // namespace sluice
