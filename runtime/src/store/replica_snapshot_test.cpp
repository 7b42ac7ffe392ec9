// Snapshots: a follower's copy installed from the owner's snapshot in one
// go or in steps matches the owner, takes no log records before it is
// finished, and catches up with the log after. Every copy's position read
// in one scan equals each shard's own.
#include "replication_workload.hpp"

namespace sluice::cluster_store_test {

namespace {

using ReplicaSnapshot = Replication;

TEST_F(ReplicaSnapshot,
       ASnapshotInStepsTakesNoRecordsUntilFinishedThenCatchesUp) {
  workload([](const std::string&) {});
  std::vector<std::string> chunks;
  auto at = a.st->snapshot_shard(S, 200, [&](std::string&& c) {
    chunks.push_back(std::move(c));
    return true;
  });
  ASSERT_TRUE(at) << at.error().describe();
  ASSERT_GT(chunks.size(), 2u);
  ASSERT_TRUE(b.st->begin_snapshot(S, *at));
  // More is committed meanwhile; its record waits for the snapshot.
  write_batch more;
  more.appends = {append(a.parse, k, "k#during")};
  commit(a, std::move(more));
  auto during = a.st->read_replog(S, at->seq, 10);
  ASSERT_TRUE(during);
  ASSERT_EQ(during->size(), 1u);
  auto r = b.st->apply_replicated(*during);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].refused->code, errc::not_found);
  // A chunk or a finish for another position is refused.
  auto wrong = b.st->add_snapshot_chunk(S, {at->epoch, at->seq + 1}, chunks[0]);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, errc::invalid_argument);
  for (auto& c : chunks)
    ASSERT_TRUE(b.st->add_snapshot_chunk(S, *at, c));
  ASSERT_FALSE(b.st->finish_snapshot(S, {at->epoch + 1, 0}));
  ASSERT_TRUE(b.st->finish_snapshot(S, *at));
  ASSERT_FALSE(b.st->finish_snapshot(S, *at)); // not under way any more
  ship(S);
  expect_in_sync(S, "a snapshot in steps and the log after it");
}

TEST_F(ReplicaSnapshot, ASnapshotInOneGoEqualsTheOwnerAndReplacesTheOldCopy) {
  snapshot(S);
  workload([](const std::string&) {});
  auto before = b.st->replica_digest(S);
  auto owner = a.st->shard_digest(S);
  ASSERT_TRUE(before && owner);
  EXPECT_NE(*before, *owner); // nothing shipped: the copy is behind
  snapshot(S);
  expect_in_sync(S, "a second snapshot");
  // A late snapshot of the same epoch, older than the copy (the log moved
  // it on since), leaves the copy as it is: it never goes back.
  std::vector<std::string> old_chunks;
  auto old_at = a.st->snapshot_shard(S, 4096, [&](std::string&& c) {
    old_chunks.push_back(std::move(c));
    return true;
  });
  ASSERT_TRUE(old_at);
  write_batch more;
  more.appends = {append(a.parse, k, "k#after-the-snapshot")};
  commit(a, std::move(more));
  ship(S);
  auto moved = b.st->replica_position(S);
  ASSERT_TRUE(moved && *moved);
  ASSERT_GT((*moved)->seq, old_at->seq);
  ASSERT_TRUE(b.st->install_snapshot(S, *old_at, old_chunks));
  EXPECT_EQ(**b.st->replica_position(S), **moved);
  expect_in_sync(S, "a late, older snapshot");
  // A chunk that does not parse is refused, and the copy stays.
  auto bad = b.st->install_snapshot(S, {(*moved)->epoch, (*moved)->seq + 1},
                                    {"\xff\xff not a record"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::corrupt);
  expect_in_sync(S, "a refused snapshot");
}

using ReplicaPositions = Replication;

TEST_F(ReplicaPositions, AllPositionsReadTogetherEqualEachShardsOwnPosition) {
  auto expect_equal = [&](const std::string& step) {
    auto all = b.st->replica_positions();
    ASSERT_TRUE(all) << all.error().describe();
    for (std::uint32_t sh = 0; sh < shard_count; ++sh) {
      auto one = b.st->replica_position(sh);
      ASSERT_TRUE(one) << one.error().describe();
      auto it = all->find(sh);
      ASSERT_EQ(bool(*one), it != all->end()) << "shard " << sh << ", " << step;
      if (*one) {
        EXPECT_EQ(**one, it->second) << "shard " << sh << ", " << step;
      }
    }
  };
  auto none = b.st->replica_positions();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  snapshot(S);
  snapshot(S + 1);
  workload([](const std::string&) {});
  ship(S); // S's copy moves past its snapshot; S + 1's stays at it
  // A snapshot still being installed is no usable copy.
  auto at =
      a.st->snapshot_shard(S + 2, 256, [](std::string&&) { return true; });
  ASSERT_TRUE(at);
  ASSERT_TRUE(b.st->begin_snapshot(S + 2, *at));
  auto all = b.st->replica_positions();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_GT(all->at(S).seq, all->at(S + 1).seq);
  expect_equal("two copies and one snapshot under way");
  ASSERT_TRUE(b.st->finish_snapshot(S + 2, *at));
  ASSERT_TRUE(b.st->drop_replica(S + 1));
  expect_equal("a snapshot finished, a copy dropped");
  EXPECT_EQ(b.st->replica_positions()->size(), 2u);
  auto owner = a.st->replica_positions(); // owns, holds no copies
  ASSERT_TRUE(owner);
  EXPECT_TRUE(owner->empty());
}

} // namespace

} // namespace sluice::cluster_store_test
