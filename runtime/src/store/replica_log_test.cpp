// The follower's replica_log: shipped records are taken into the log and
// reach the copies in batches; the copy read meanwhile (scans, digests) is
// the same as if every record had been applied at once; over its bound one
// part of the log is applied per commit, the largest; a snapshot replaces
// logged records too; the log survives a reopen; a damaged entry drops
// only its shard's copy. (A promotion from the log: promotion_test.cpp.)
#include <functional>

#include "checked_values.hpp"
#include "raw_lmdb_test_support.hpp"
#include "replication_workload.hpp"

namespace sluice::cluster_store_test {

namespace {

/// b applies its log every `N` records.
template <std::size_t N>
struct ReplicaLogEvery : Replication {
  void SetUp() override {
    Replication::SetUp();
    b.replica_log = N;
    open(b, true);
  }

  std::size_t logged() {
    auto n = b.st->replica_log_records();
    EXPECT_TRUE(n) << n.error().describe();
    return n ? *n : 0;
  }

  /// Ships a record of S and one of S + 1 (which share the first part of
  /// b's log, S's entry first) and closes b with both still logged.
  void log_two_shards() {
    auto other = key_in(S + 1, "o");
    this->snapshot(S);
    this->snapshot(S + 1);
    write_batch wb;
    wb.appends = {this->append(this->a.parse, this->k, "k#1"),
                  this->append(this->a.parse, other, "o#1")};
    this->commit(this->a, std::move(wb));
    this->ship(S);
    this->ship(S + 1);
    ASSERT_EQ(logged(), 2u);
    this->b.st.reset();
  }
};

using ReplicaLogEvery3 = ReplicaLogEvery<3>;
using ReplicaLogLarge = ReplicaLogEvery<100000>;

TEST_F(ReplicaLogEvery3, ApplyingTheLogInBatchesKeepsTheCopyEqualAtEveryStep) {
  snapshot(S);
  std::size_t applied = 0, before = 0;
  workload([&](const std::string& step) {
    ship(S);
    expect_in_sync(S, step);
    auto now = logged();
    EXPECT_LT(now, 3u) << step; // applied once 3 were there
    if (now < before + 1)
      ++applied;
    before = now;
  });
  EXPECT_GT(applied, 2u) << "the log was never applied";
}

using ReplicaLogEvery4 = ReplicaLogEvery<4>;

TEST_F(ReplicaLogEvery4,
       OverItsBoundTheLogIsAppliedOnePartACommitLargestFirst) {
  // S's records and U's are in different parts of the log (64 shards each).
  constexpr std::uint32_t U = S + 64;
  auto u = key_in(U, "u");
  snapshot(S);
  snapshot(U);
  for (int i = 1; i <= 3; ++i) {
    write_batch wb;
    wb.appends = {append(a.parse, k, "k#" + std::to_string(i))};
    if (i <= 2)
      wb.appends.push_back(append(a.parse, u, "u#" + std::to_string(i)));
    commit(a, std::move(wb));
  }
  ship(S);
  EXPECT_EQ(logged(), 3u); // under the bound: nothing applied
  ship(U);
  // 5 logged: S's part (3) is applied, U's (2) waits for a later commit.
  EXPECT_EQ(logged(), 2u);
  expect_in_sync(S, "S's part applied");
  expect_in_sync(U, "U's part still logged");
}

TEST_F(ReplicaLogLarge,
       RecordsStillInTheLogAreReadWithTheCopyAndSurviveAReopen) {
  snapshot(S);
  std::size_t steps = 0;
  workload([&](const std::string& step) {
    ship(S);
    expect_in_sync(S, step);
    ++steps;
  });
  auto n = logged();
  EXPECT_GE(n, steps);
  // Taken means durable: a restart holds the same copy, still unapplied.
  open(b, true);
  EXPECT_EQ(logged(), n);
  expect_in_sync(S, "a reopen with records in the log");
  // Applied at last (the next commit with a lower bound), nothing changes.
  b.replica_log = 1;
  open(b, true);
  auto rep = b.st->apply_replicated({});
  ASSERT_TRUE(rep) << rep.error().describe();
  EXPECT_EQ(logged(), 0u);
  expect_in_sync(S, "the log applied after the reopen");
}

TEST_F(ReplicaLogLarge, ASnapshotReplacesACopyWhoseRecordsAreStillInTheLog) {
  snapshot(S);
  workload([&](const std::string&) { ship(S); });
  ASSERT_GT(logged(), 0u);
  // The owner goes on; the follower is sent a snapshot instead of the log.
  write_batch wb;
  wb.appends = {append(a.parse, k, "k#after")};
  commit(a, std::move(wb));
  snapshot(S);
  EXPECT_EQ(logged(), 0u);
  expect_in_sync(S, "a snapshot over logged records");
}

/// Rewrites the stored bytes of b's first replica_log entry (value and
/// checksum) with what `change` makes of them, given its key.
void rewrite_first_entry(
    const std::string& dir,
    const std::function<std::string(const std::string&, std::string)>& change) {
  test::raw_lmdb db{dir};
  auto dbi = db.dbi("replica_log.00");
  MDB_cursor* c = nullptr;
  ASSERT_EQ(mdb_cursor_open(db.txn(), dbi, &c), 0);
  MDB_val k, v;
  ASSERT_EQ(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
  std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
  auto stored =
      change(key, std::string(static_cast<const char*>(v.mv_data), v.mv_size));
  mdb_cursor_close(c);
  MDB_val kv{key.size(), key.data()}, vv{stored.size(), stored.data()};
  ASSERT_EQ(mdb_put(db.txn(), dbi, &kv, &vv, 0), 0);
}

TEST_F(ReplicaLogLarge,
       ADamagedEntryDropsOnlyItsShardsCopyWhichThenNeedsASnapshot) {
  log_two_shards();
  // S's entry: its header whole, its record garbage, written whole (its
  // checksum holds): bytes that do not decode.
  std::string bad;
  keys::put_u32(bad, S);
  keys::put_u64(bad, 1);
  keys::put_u64(bad, 1);
  bad += "\xff\xff\xff";
  rewrite_first_entry(b.dir, [&](const std::string& key, const std::string&) {
    std::string stored;
    seal(key, bad, stored);
    return stored;
  });
  b.replica_log = 1;
  open(b, true);
  // Reads of S's copy name the damage; they never crash.
  auto d = b.st->replica_digest(S);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().describe().find("replica_log.00 entry"),
            std::string::npos)
      << d.error().describe();
  // Applying the log drops S's copy and keeps S + 1's.
  auto rep = b.st->apply_replicated({});
  ASSERT_TRUE(rep) << rep.error().describe();
  EXPECT_EQ(logged(), 0u);
  auto at = b.st->replica_position(S);
  ASSERT_TRUE(at);
  EXPECT_FALSE(*at) << "the damaged copy is still there";
  expect_in_sync(S + 1, "a damaged entry of another shard");
  // S's owner's records are refused until a snapshot comes.
  auto again = b.st->apply_replicated(a.st->read_replog(S, 0, 10).value());
  ASSERT_TRUE(again);
  ASSERT_EQ(again->shards.size(), 1u);
  ASSERT_TRUE(again->shards[0].refused);
  EXPECT_EQ(again->shards[0].refused->code, errc::not_found);
  snapshot(S);
  expect_in_sync(S, "the snapshot after the damage");
}

TEST_F(ReplicaLogLarge,
       AnEntryFailingItsChecksumDropsEveryCopyOfItsPartWhichSnapshotsRestore) {
  log_two_shards();
  // The same bytes with one flipped, as a bad sector would leave them:
  // even the shard the entry names cannot be trusted.
  rewrite_first_entry(b.dir, [](const std::string&, std::string stored) {
    auto& byte = stored[stored.size() / 2];
    byte = static_cast<char>(byte ^ 0x10);
    return stored;
  });
  b.replica_log = 1;
  open(b, true);
  auto rep = b.st->apply_replicated({});
  ASSERT_TRUE(rep) << rep.error().describe();
  EXPECT_EQ(logged(), 0u);
  for (auto s : {S, S + 1}) {
    auto at = b.st->replica_position(s);
    ASSERT_TRUE(at);
    EXPECT_FALSE(*at) << "shard " << s << ": a copy the damage may hold kept";
  }
  snapshot(S);
  snapshot(S + 1);
  expect_in_sync(S, "the snapshot after damage on disk");
  expect_in_sync(S + 1, "the snapshot after damage on disk");
}

} // namespace

} // namespace sluice::cluster_store_test
