// Replication capture and the follower's copy: a workload on an owner whose
// every log record is shipped to a follower after each write keeps equal
// digests; batches applied twice, older epochs and gaps; replication off.
#include <set>

#include "replication_workload.hpp"

namespace sluice::cluster_store_test {

namespace {

using ReplicationCapture = Replication;

TEST_F(ReplicationCapture,
       AFollowerFedEveryRecordMatchesTheOwnerAfterEveryStep) {
  snapshot(S);
  expect_in_sync(S, "the snapshot");
  std::size_t steps = 0;
  workload([&](const std::string& step) {
    ship(S);
    expect_in_sync(S, step);
    ++steps;
  });
  EXPECT_EQ(steps, 14u);
  // Something of every kind was replicated, and the copy is not empty.
  auto lines = replica_lines(S);
  EXPECT_NE(lines, "");
  auto log = a.st->read_replog(S, 0, 1000);
  ASSERT_TRUE(log);
  std::set<int> kinds;
  for (auto& e : *log) {
    v1::ReplRecord rec;
    ASSERT_TRUE(rec.ParseFromString(e.record));
    EXPECT_EQ(e.epoch, 1u);
    for (auto& c : rec.changes())
      kinds.insert(c.kind() * 2 + (c.erase() ? 1 : 0));
  }
  // Puts of all 8 kinds; deletes of queued, retry, timer, dead letter and
  // outbox entries (states, statuses and watermarks are only replaced).
  EXPECT_EQ(kinds, (std::set<int>{0, 1, 2, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15}));
}

TEST_F(ReplicationCapture, OnlyShardsOwnedHereAreLoggedEachWithItsOwnSeqs) {
  auto other = key_in(S + 1, "o");
  write_batch b;
  b.appends = {append(a.parse, k, "k#1"), append(a.parse, other, "o#1"),
               append(a.parse, x, "x#1"), append(a.parse, k, "k#2")};
  auto r = commit(a, std::move(b));
  EXPECT_EQ(r.replicated,
            (std::map<std::uint32_t, std::uint64_t>{{S, 1}, {S + 1, 1}}));
  write_batch b2;
  b2.appends = {append(a.parse, k, "k#3")};
  EXPECT_EQ(commit(a, std::move(b2)).replicated,
            (std::map<std::uint32_t, std::uint64_t>{{S, 2}}));
  auto log = a.st->read_replog(S, 0, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  v1::ReplRecord first;
  ASSERT_TRUE(first.ParseFromString((*log)[0].record));
  ASSERT_EQ(first.changes_size(), 2); // k#1 and k#2, in write order
  EXPECT_EQ(id_of(first.changes(0).value()), "k#1");
  EXPECT_EQ(id_of(first.changes(1).value()), "k#2");
  EXPECT_EQ(first.changes(0).stage(), "parse");
  auto none = a.st->read_replog(T, 0, 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  // Trimmed up to seq 1, the log keeps seq 2.
  auto trimmed = a.st->trim_replog(S, 1);
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(*trimmed, 1u);
  log = a.st->read_replog(S, 0, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].seq, 2u);
}

TEST_F(ReplicationCapture, SeveralShardsLogsAreTrimmedInOneCallEachToItsPoint) {
  auto other = key_in(S + 1, "o");
  for (int i = 1; i <= 3; ++i) {
    write_batch wb;
    wb.appends = {append(a.parse, k, "k#" + std::to_string(i)),
                  append(a.parse, other, "o#" + std::to_string(i))};
    commit(a, std::move(wb));
  }
  auto trimmed = a.st->trim_replogs({{S, 2}, {S + 1, 1}, {T, 5}});
  ASSERT_TRUE(trimmed) << trimmed.error().describe();
  EXPECT_EQ(*trimmed, 3u);
  auto s = a.st->read_replog(S, 0, 10);
  auto o = a.st->read_replog(S + 1, 0, 10);
  ASSERT_TRUE(s && o);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].seq, 3u);
  ASSERT_EQ(o->size(), 2u);
  EXPECT_EQ((*o)[0].seq, 2u);
}

TEST_F(ReplicationCapture, ABatchAppliedTwiceChangesNothing) {
  snapshot(S);
  std::vector<replog_entry> all;
  workload([&](const std::string&) {
    auto recs = unshipped(S);
    all.insert(all.end(), recs.begin(), recs.end());
    ship(S);
  });
  auto before = b.st->replica_digest(S);
  ASSERT_TRUE(before);
  auto again = b.st->apply_replicated(all);
  ASSERT_TRUE(again) << again.error().describe();
  ASSERT_EQ(again->shards.size(), 1u);
  EXPECT_FALSE(again->shards[0].refused);
  EXPECT_EQ(again->shards[0].applied, 0u);
  EXPECT_EQ(again->shards[0].skipped, all.size());
  auto after = b.st->replica_digest(S);
  ASSERT_TRUE(after);
  EXPECT_EQ(*before, *after);
  expect_in_sync(S, "the batch applied twice");
}

TEST_F(ReplicationCapture, ARecordOfAnOlderEpochOrAfterAGapIsRefused) {
  write_batch b1;
  b1.appends = {append(a.parse, k, "k#1")};
  commit(a, std::move(b1));
  write_batch b2;
  b2.appends = {append(a.parse, k, "k#2")};
  commit(a, std::move(b2));
  auto log = a.st->read_replog(S, 0, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  // No copy yet: a snapshot must come first.
  auto r = b.st->apply_replicated(*log);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].refused->code, errc::not_found);
  // A copy at a newer epoch refuses the old owner's records.
  ASSERT_TRUE(b.st->install_snapshot(S, {2, 0}, {}));
  r = b.st->apply_replicated(*log);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].refused->code, errc::invalid_argument);
  EXPECT_NE(r->shards[0].refused->message.find("older epoch"),
            std::string::npos);
  EXPECT_EQ(r->shards[0].applied, 0u);
  auto copy = b.st->replica_digest(S);
  auto empty = b.st->replica_digest(S + 1);
  ASSERT_TRUE(copy && empty);
  EXPECT_EQ(*copy, *empty);
  // And so does a snapshot of the older epoch.
  auto old = b.st->install_snapshot(S, {1, 0}, {});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, errc::invalid_argument);
  // At the same epoch, a record after a gap is refused; the earlier one
  // is applied.
  ASSERT_TRUE(b.st->drop_replica(S));
  ASSERT_TRUE(b.st->install_snapshot(S, {1, 0}, {}));
  r = b.st->apply_replicated({(*log)[1]});
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].refused->code, errc::not_found);
  r = b.st->apply_replicated(*log);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].applied, 2u);
  // A shard owned here takes no replicated records.
  auto own = a.st->apply_replicated(*log);
  ASSERT_TRUE(own);
  ASSERT_TRUE(own->shards[0].refused);
  EXPECT_EQ(own->shards[0].refused->code, errc::invalid_argument);
}

TEST_F(ReplicationCapture, EachShardOfABatchIsAppliedOrRefusedOnItsOwn) {
  auto other = key_in(S + 1, "o");
  write_batch b1;
  b1.appends = {append(a.parse, k, "k#1"), append(a.parse, other, "o#1")};
  commit(a, std::move(b1));
  snapshot(S); // S + 1 has no copy on b: its records need a snapshot
  write_batch b2;
  b2.appends = {append(a.parse, k, "k#2"), append(a.parse, other, "o#2")};
  commit(a, std::move(b2));
  auto batch = unshipped(S);
  auto more = a.st->read_replog(S + 1, 0, 10);
  ASSERT_TRUE(more);
  batch.insert(batch.begin(), more->begin(), more->end());
  auto r = b.st->apply_replicated(batch);
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->shards.size(), 2u);
  EXPECT_EQ(r->shards[0].shard, S + 1);
  ASSERT_TRUE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].refused->code, errc::not_found);
  EXPECT_EQ(r->shards[1].shard, S);
  EXPECT_FALSE(r->shards[1].refused);
  EXPECT_EQ(r->shards[1].applied, 1u);
  expect_in_sync(S, "a batch of two shards");
}

TEST_F(ReplicationCapture, AReleasedShardsLogIsDroppedAndItsSeqsNeverGoBack) {
  write_batch b1;
  b1.appends = {append(a.parse, k, "k#1")};
  commit(a, std::move(b1));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 9));
  ASSERT_TRUE(a.st->release_shards({S}));
  auto log = a.st->read_replog(S, 0, 10);
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->empty());
  auto gone = a.st->replog_position(S);
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
  // Back at a higher epoch (a hand-off in), the log goes on after seq 1.
  ASSERT_TRUE(a.st->begin_import({S}));
  ASSERT_TRUE(a.st->acquire_shards({S}, 3));
  write_batch b2;
  b2.appends = {append(a.parse, k, "k#2")};
  EXPECT_EQ(commit(a, std::move(b2)).replicated,
            (std::map<std::uint32_t, std::uint64_t>{{S, 2}}));
  auto at = a.st->replog_position(S);
  ASSERT_TRUE(at && *at);
  EXPECT_EQ(**at, (repl_position{3, 2}));
}

TEST_F(ReplicationCapture, TheLogIsReadAfterASeqAtMostMaxRecordsInLogOrder) {
  for (int i = 1; i <= 5; ++i) {
    write_batch b;
    b.appends = {append(a.parse, k, "k#" + std::to_string(i))};
    commit(a, std::move(b));
  }
  auto seqs = [&](std::uint64_t after, std::size_t max) {
    std::vector<std::uint64_t> out;
    auto log = a.st->read_replog(S, after, max);
    EXPECT_TRUE(log);
    for (auto& e : log ? *log : std::vector<replog_entry>{}) {
      EXPECT_EQ(e.shard, S);
      v1::ReplRecord rec;
      EXPECT_TRUE(rec.ParseFromString(e.record));
      EXPECT_EQ(id_of(rec.changes(0).value()), "k#" + std::to_string(e.seq));
      out.push_back(e.seq);
    }
    return out;
  };
  EXPECT_EQ(seqs(0, 10), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(seqs(2, 2), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(seqs(4, 10), (std::vector<std::uint64_t>{5}));
  EXPECT_TRUE(seqs(5, 10).empty());
  EXPECT_TRUE(seqs(9, 10).empty());
  // Trimmed below 3, a read from before the trim starts at 3; the next
  // shard's log is not read into.
  ASSERT_TRUE(a.st->trim_replog(S, 2));
  EXPECT_EQ(seqs(0, 10), (std::vector<std::uint64_t>{3, 4, 5}));
  write_batch other;
  other.appends = {append(a.parse, key_in(S + 1, "o"), "o#1")};
  commit(a, std::move(other));
  EXPECT_EQ(seqs(4, 10), (std::vector<std::uint64_t>{5}));
}

TEST_F(ReplicationCapture, ReplicationOffWritesNoReplicationRecord) {
  open(a, false);
  write_batch b1;
  b1.appends = {append(a.parse, k, "k#1")};
  auto r1 = commit(a, std::move(b1));
  auto c = complete(a.parse, k, pos_of(a, a.parse, "k#1"), 0, "k-v1");
  c.emits = {append(a.parse, x, "x#from-k")};
  write_batch b2;
  b2.completions.push_back(std::move(c));
  auto r2 = commit(a, std::move(b2));
  EXPECT_EQ(r2.outboxed, 1u);
  EXPECT_TRUE(r1.replicated.empty());
  EXPECT_TRUE(r2.replicated.empty());
  auto log = a.st->read_replog(S, 0, 10);
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->empty());
  auto at = a.st->replog_position(S);
  ASSERT_TRUE(at && *at);
  EXPECT_EQ(**at, (repl_position{1, 0}));
  // Nor an outbox source: the entry is nobody's shard record.
  std::vector<std::string> chunks;
  ASSERT_TRUE(a.st->snapshot_shard(S, 1 << 20, [&](std::string&& ch) {
    chunks.push_back(std::move(ch));
    return true;
  }));
  std::size_t outbox = 0;
  for (auto& ch : chunks) {
    v1::ReplRecord rec;
    ASSERT_TRUE(rec.ParseFromString(ch));
    for (auto& change : rec.changes())
      outbox += change.kind() == v1::REPL_OUTBOX;
  }
  EXPECT_EQ(outbox, 0u);
}

} // namespace

} // namespace sluice::cluster_store_test
