// Shipped batches applied in a commit (`write_batch::copies`): several
// shards' batches, from several owners, in one transaction, each reported
// on its own with every position recorded; a shard's position carries from
// one batch to the next; a batch applied twice changes nothing.
#include "replication_workload.hpp"

namespace sluice::cluster_store_test {

namespace {

using ReplicaBatches = Replication;

/// A commit on b of only the shipped batches `copies`.
commit_report commit_copies(member& m,
                            std::vector<std::vector<replog_entry>> copies) {
  write_batch wb;
  wb.copies = std::move(copies);
  auto r = m.st->commit(wb);
  EXPECT_TRUE(r) << r.error().describe();
  return r ? std::move(*r) : commit_report{};
}

TEST_F(ReplicaBatches, SeveralShardsBatchesCommitTogetherEachPositionRecorded) {
  auto other = key_in(S + 1, "o");
  snapshot(S);
  snapshot(S + 1);
  for (int i = 1; i <= 3; ++i) {
    write_batch wb;
    wb.appends = {append(a.parse, k, "k#" + std::to_string(i)),
                  append(a.parse, other, "o#" + std::to_string(i))};
    commit(a, std::move(wb));
  }
  auto of_s = unshipped(S);
  auto of_other = a.st->read_replog(S + 1, 0, 100);
  ASSERT_TRUE(of_other);
  ASSERT_EQ(of_s.size(), 3u);
  // Two batches as two owners' messages would bring them, with the
  // follower's own batch (a dead letter of its input) in the same commit.
  write_batch wb;
  wb.dead_letters = {"input that never became an event"};
  wb.copies = {of_s, *of_other};
  auto r = commit(b, std::move(wb));
  EXPECT_EQ(r.dead_letters, 1u);
  ASSERT_EQ(r.copies.size(), 2u);
  ASSERT_EQ(r.copies[0].shards.size(), 1u);
  EXPECT_EQ(r.copies[0].shards[0].shard, S);
  EXPECT_EQ(r.copies[0].shards[0].applied, 3u);
  EXPECT_FALSE(r.copies[0].shards[0].refused);
  ASSERT_EQ(r.copies[1].shards.size(), 1u);
  EXPECT_EQ(r.copies[1].shards[0].shard, S + 1);
  EXPECT_EQ(r.copies[1].shards[0].applied, 3u);
  EXPECT_EQ(r.copies[1].shards[0].at, (repl_position{1, 3}));
  expect_in_sync(S, "two shards' batches in one commit");
  expect_in_sync(S + 1, "two shards' batches in one commit");
}

TEST_F(ReplicaBatches, AShardsPositionCarriesFromOneBatchToTheNextInACommit) {
  snapshot(S);
  workload([](const std::string&) {});
  auto all = unshipped(S);
  ASSERT_GT(all.size(), 2u);
  // The first record in one batch, the rest in a later one: the second
  // must not see a gap behind the first.
  std::vector<replog_entry> first(all.begin(), all.begin() + 1);
  std::vector<replog_entry> rest(all.begin() + 1, all.end());
  auto r = commit_copies(b, {first, rest});
  ASSERT_EQ(r.copies.size(), 2u);
  EXPECT_EQ(r.copies[0].shards[0].applied, 1u);
  EXPECT_FALSE(r.copies[1].shards[0].refused)
      << r.copies[1].shards[0].refused->describe();
  EXPECT_EQ(r.copies[1].shards[0].applied, rest.size());
  expect_in_sync(S, "a shard's records split over two batches");
}

TEST_F(ReplicaBatches,
       ABatchAppliedTwiceInOneCommitOrAgainLaterChangesNothing) {
  snapshot(S);
  workload([](const std::string&) {});
  auto all = unshipped(S);
  auto r = commit_copies(b, {all, all});
  ASSERT_EQ(r.copies.size(), 2u);
  EXPECT_EQ(r.copies[0].shards[0].applied, all.size());
  EXPECT_EQ(r.copies[1].shards[0].applied, 0u);
  EXPECT_EQ(r.copies[1].shards[0].skipped, all.size());
  EXPECT_FALSE(r.copies[1].shards[0].refused);
  auto before = b.st->replica_digest(S);
  ASSERT_TRUE(before);
  r = commit_copies(b, {all});
  ASSERT_EQ(r.copies.size(), 1u);
  EXPECT_EQ(r.copies[0].shards[0].applied, 0u);
  EXPECT_EQ(r.copies[0].shards[0].skipped, all.size());
  auto after = b.st->replica_digest(S);
  ASSERT_TRUE(after);
  EXPECT_EQ(*before, *after);
  expect_in_sync(S, "the batch applied twice");
}

TEST_F(ReplicaBatches, ARefusedShardLeavesTheOtherBatchesOfTheCommitApplied) {
  auto other = key_in(S + 1, "o");
  snapshot(S); // S + 1 has no copy on b: its records need a snapshot
  write_batch wb;
  wb.appends = {append(a.parse, k, "k#1"), append(a.parse, other, "o#1")};
  commit(a, std::move(wb));
  auto of_other = a.st->read_replog(S + 1, 0, 100);
  ASSERT_TRUE(of_other);
  auto r = commit_copies(b, {*of_other, unshipped(S)});
  ASSERT_EQ(r.copies.size(), 2u);
  ASSERT_TRUE(r.copies[0].shards[0].refused);
  EXPECT_EQ(r.copies[0].shards[0].refused->code, errc::not_found);
  EXPECT_FALSE(r.copies[1].shards[0].refused);
  EXPECT_EQ(r.copies[1].shards[0].applied, 1u);
  expect_in_sync(S, "beside a refused shard");
  auto none = b.st->replica_position(S + 1);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  // A copy at a newer epoch refuses the old owner's records in a commit
  // as it does alone, and the commit's other work still lands.
  ASSERT_TRUE(b.st->install_snapshot(S + 1, {2, 0}, {}));
  write_batch late;
  late.dead_letters = {"more input"};
  late.copies = {*of_other};
  auto r2 = commit(b, std::move(late));
  EXPECT_EQ(r2.dead_letters, 1u);
  ASSERT_EQ(r2.copies.size(), 1u);
  ASSERT_TRUE(r2.copies[0].shards[0].refused);
  EXPECT_EQ(r2.copies[0].shards[0].refused->code, errc::invalid_argument);
  auto at = b.st->replica_position(S + 1);
  ASSERT_TRUE(at && *at);
  EXPECT_EQ(**at, (repl_position{2, 0}));
}

} // namespace

} // namespace sluice::cluster_store_test
