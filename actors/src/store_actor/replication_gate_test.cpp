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
  // a's record of shard 2 is not replicated yet: what its keys emitted
  // stays (shard 2 may be lost too, and its keys then run again).
  EXPECT_EQ(o.fence, 0u);
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

TEST(ReplicationGate, AFailedCommitHoldsTheFenceUntilItsOtherShardsReplicate) {
  // a changed shards 1 and 2; shard 1 is lost. The outbox entries a's keys
  // of shard 2 emitted must not leave before shard 2's record of a is
  // replicated: lost too before that, shard 2's keys run again at the new
  // owner and emit the same events again (counted twice downstream).
  replication_gate g;
  auto a = g.hold({{1, 5}, {2, 4}}, 10);
  auto b = g.hold({{3, 1}}, 20);
  g.advance({{3, 1}});
  g.lose({1});
  auto o = g.take();
  EXPECT_EQ(o.failed, ticket_list{a});
  EXPECT_EQ(o.released, ticket_list{b});
  EXPECT_EQ(o.fence, 0u);
  g.failure_handled();
  g.advance({{2, 3}});
  EXPECT_EQ(g.take().fence, 0u);
  g.advance({{2, 4}});
  EXPECT_EQ(g.take().fence, 20u);
  EXPECT_EQ(g.waiting(), 0u);
}

TEST(ReplicationGate, AFailedCommitsOtherShardLostTooNoLongerHoldsTheFence) {
  // Shard 2's records (its outbox entries with them) are erased when it
  // is given up: nothing of a is left to leave.
  replication_gate g;
  auto a = g.hold({{1, 5}, {2, 4}}, 10);
  g.lose({1});
  auto o = g.take();
  EXPECT_EQ(o.failed, ticket_list{a});
  EXPECT_EQ(o.fence, 0u);
  g.failure_handled();
  g.lose({2});
  EXPECT_EQ(g.take().fence, 10u);
  EXPECT_EQ(g.waiting(), 0u);
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

// A client's retry whose events were all published once (dropped as
// duplicates) changed nothing: it must still not be acknowledged before
// the original commit, held for its replicas or its owner's answer.
TEST(ReplicationGate, ARetryOfPublishedEventsWaitsForTheOriginalCommit) {
  replication_gate g;
  auto original = g.hold({{4, 9}}, 10);
  auto forwarded = g.hold({}, 20, {{1, 21}});
  auto retry = g.hold({}, 30, {}, true);
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{4, 9}});
  EXPECT_EQ(g.take().released, ticket_list{original});
  g.forwarded({{1, 21}});
  EXPECT_EQ(g.take().released, (ticket_list{forwarded, retry}));
  // Nothing older held: at once.
  auto again = g.hold({}, 40, {}, true);
  EXPECT_EQ(g.take().released, ticket_list{again});
}

// The original's shard was lost before it was replicated: its events are
// appended again for the new owner, and the retry waits for that commit.
TEST(ReplicationGate, ARetryWaitsForTheEventsOfAFailedOriginalAppendedAgain) {
  replication_gate g;
  auto original = g.hold({{4, 9}}, 10);
  auto retry = g.hold({}, 20, {}, true);
  g.lose({4});
  auto o = g.take();
  EXPECT_EQ(o.failed, ticket_list{original});
  EXPECT_TRUE(o.released.empty()); // the failure is not dealt with yet
  g.reappending();
  g.failure_handled();
  EXPECT_TRUE(g.take().released.empty()); // the re-append is not committed
  // A later retry waits as well.
  auto late = g.hold({}, 25, {}, true);
  EXPECT_TRUE(g.take().released.empty());
  auto again = g.hold({}, 30, {{2, 31}}); // the re-append, to the new owner
  g.reappended(again);
  EXPECT_TRUE(g.take().released.empty());
  g.forwarded({{2, 31}});
  EXPECT_EQ(g.take().released, (ticket_list{again, retry, late}));
}

// The failed original's events of shards still owned wait on under a
// ticket of their own; the retry waits for it too.
TEST(ReplicationGate, ARetryWaitsForTheRestOfAFailedOriginal) {
  replication_gate g;
  auto original = g.hold({{4, 9}, {5, 3}}, 10);
  auto retry = g.hold({}, 20, {}, true);
  g.lose({4});
  auto o = g.take();
  EXPECT_EQ(o.failed, ticket_list{original});
  ASSERT_EQ(o.failed_rest[original].size(), 1u);
  auto rest = g.hold(o.failed_rest[original], 20);
  g.failure_handled(rest);
  EXPECT_TRUE(g.take().released.empty());
  g.advance({{5, 3}});
  EXPECT_EQ(g.take().released, (ticket_list{rest, retry}));
}

// Without publish-once duplicates, commits do not wait for older ones.
TEST(ReplicationGate, AnOrdinaryCommitDoesNotWaitForOlderOnes) {
  replication_gate g;
  g.hold({{4, 9}}, 10);
  g.lose({4});
  g.take();
  g.reappending(); // never committed, say
  auto b = g.hold({}, 20);
  EXPECT_EQ(g.take().released, ticket_list{b});
}

} // namespace
} // namespace sluice
