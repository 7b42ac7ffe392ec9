// Promotion: a follower that replicated a shard through the workload takes
// it over at a higher epoch and serves what the owner served: the same
// queued events in the same order, states, statuses and retries pointing at
// the same events, timers, dead letters and outbox entries; a second
// follower whose copy was where the promoted one was goes on from the new
// owner's log, and only such a one.
#include <algorithm>

#include "epoch_history.hpp"
#include "replication_workload.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cluster_store_test {

namespace {

using ReplicaPromotion = Replication;

/// What a reader of `m` sees of keys k and j, positions replaced by the
/// ids of the events they name (seqs differ between members).
std::vector<std::string> view(member& m, const std::vector<std::string>& ks) {
  std::vector<std::string> out;
  auto id_at = [&](std::uint32_t stage, keys::queue_pos pos) {
    auto e = m.st->read_entry(stage, pos);
    return e && *e ? id_of(**e) : std::string("<gone>");
  };
  for (auto stage : {m.parse, m.score}) {
    for (auto p : {priority::urgent, priority::normal})
      for (auto& id : ids_of(ClusterStore::queue(m, stage, p)))
        out.push_back("queued " + std::to_string(stage) + " "
                      + std::to_string(static_cast<int>(p)) + " " + id);
    for (auto& key : ks) {
      out.push_back("state " + key + " "
                    + ClusterStore::state_of(m, stage, key));
      if (auto r = m.st->read_retry(stage, key); r && *r)
        out.push_back("retry " + key + " waits for " + id_at(stage, (*r)->pos)
                      + " due " + std::to_string((*r)->due_ns));
      auto ts = m.st->read_timers(stage, key);
      EXPECT_TRUE(ts);
      for (auto& t : ts ? *ts : std::vector<stored_timer>{})
        out.push_back("timer " + key + " " + t.name + " "
                      + std::to_string(t.due_ns) + " " + id_of(t.event_bytes));
    }
  }
  for (auto& key : ks) {
    auto s = m.st->read_status(key);
    v1::KeyStatus st;
    if (!s || !*s || !st.ParseFromString(**s))
      continue;
    // A status waiting for an entry that is gone reads as one waiting for
    // no known entry: the import (the hand-off's) forgets such positions.
    std::string waits = "-";
    if (st.queued_known())
      waits = id_at(
          st.stage() == "score" ? m.score : m.parse,
          {st.queued_priority() == 0 ? priority::urgent : priority::normal,
           st.queued_seq()});
    if (waits == "<gone>")
      waits = "-";
    out.push_back("status " + key + " " + st.stage() + " "
                  + std::to_string(st.phase()) + " waits for " + waits);
  }
  EXPECT_TRUE(m.st->scan_dead_letters(
      [&](std::uint32_t stage, std::uint64_t, const std::string& dl) {
        out.push_back("dead letter " + std::to_string(stage) + " "
                      + std::to_string(std::hash<std::string>{}(dl)));
        return true;
      }));
  auto ob = m.st->read_outbox({priority::urgent, 0}, 100);
  EXPECT_TRUE(ob);
  for (auto& e : ob ? *ob : std::vector<outbox_entry>{})
    out.push_back("outbox " + std::to_string(e.stage_id) + " "
                  + std::to_string(e.shard) + " " + id_of(e.event_bytes));
  return out;
}

/// The follower applies its replica_log every GetParam() records: 1, as
/// it takes them; or never before the promotion, which must take them.
struct PromotionOfACopy : Replication,
                          ::testing::WithParamInterface<std::size_t> {
  void SetUp() override {
    Replication::SetUp();
    b.replica_log = GetParam();
    open(b, true);
  }
};

INSTANTIATE_TEST_SUITE_P(AppliedAsTakenOrStillLogged, PromotionOfACopy,
                         ::testing::Values(1, 100000));

TEST_P(PromotionOfACopy, APromotedReplicaServesWhatTheOwnerServed) {
  snapshot(S);
  workload([&](const std::string&) { ship(S); });
  auto owner_at = a.st->replog_position(S);
  ASSERT_TRUE(owner_at && *owner_at);
  auto seen_by_owner = view(a, {k, j});
  ASSERT_GT(seen_by_owner.size(), 10u);
  auto logged = b.st->replica_log_records();
  ASSERT_TRUE(logged);
  EXPECT_EQ(*logged > 0, GetParam() > 1);

  auto rep = b.st->promote_replica({S}, 2);
  ASSERT_TRUE(rep) << rep.error().describe();
  auto left = b.st->replica_log_records();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0u);
  EXPECT_TRUE(rep->rewind);
  EXPECT_EQ(b.place->state(S), shard_state::owned);
  EXPECT_EQ(view(b, {k, j}), seen_by_owner);

  // The copy is gone; the log goes on at the new epoch from the copy's seq:
  // first the import's renumbering (the workload left queued events, whose
  // positions the import changed), then the next commit.
  auto copy = b.st->replica_position(S);
  ASSERT_TRUE(copy);
  EXPECT_FALSE(*copy);
  auto at = b.st->replog_position(S);
  ASSERT_TRUE(at && *at);
  EXPECT_EQ(**at, (repl_position{2, (*owner_at)->seq + 1}));
  write_batch more;
  more.appends = {append(b.parse, k, "k#after")};
  auto r = commit(b, std::move(more));
  EXPECT_EQ(r.replicated, (std::map<std::uint32_t, std::uint64_t>{
                              {S, (*owner_at)->seq + 2}}));
  auto log = b.st->read_replog(S, 0, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].epoch, 2u);
  EXPECT_EQ((*log)[0].seq, (*owner_at)->seq + 1);
  EXPECT_EQ((*log)[1].epoch, 2u);
}

/// Promotion with a second follower: c follows S beside b, a's snapshot
/// of S installed on both (at `start`).
struct TwoFollowers : Replication {
  member c;
  repl_position start;

  void SetUp() override {
    Replication::SetUp();
    c.dir = root + "/c";
    open(c, true);
    std::vector<std::string> chunks;
    auto snap = a.st->snapshot_shard(S, 256, [&](std::string&& ch) {
      chunks.push_back(std::move(ch));
      return true;
    });
    ASSERT_TRUE(snap);
    start = *snap;
    snapshot(S);
    ASSERT_TRUE(c.st->install_snapshot(S, start, chunks));
  }
  void TearDown() override {
    c.st.reset();
    Replication::TearDown();
  }
};

TEST_F(TwoFollowers,
       AFollowerWhereThePromotionContinuedTakesTheNewEpochWithoutASnapshot) {
  // c follows S beside b, in step with it.
  workload([&](const std::string&) {
    auto recs = unshipped(S);
    ASSERT_TRUE(c.st->apply_replicated(recs));
    ship(S);
  });
  auto owner_at = a.st->replog_position(S);
  ASSERT_TRUE(owner_at && *owner_at);
  repl_position base = **owner_at;

  ASSERT_TRUE(b.st->promote_replica({S}, 2));
  auto recs = b.st->shard_records();
  ASSERT_TRUE(recs);
  auto rec = std::find_if(recs->begin(), recs->end(),
                          [](auto& r) { return r.shard == S; });
  ASSERT_NE(rec, recs->end());
  EXPECT_EQ(rec->epoch, 2u);
  ASSERT_TRUE(rec->base);
  EXPECT_EQ(*rec->base, base);

  write_batch more;
  more.appends = {append(b.parse, k, "k#after")};
  commit(b, std::move(more));
  // The import's renumbering, then the commit.
  auto log = b.st->read_replog(S, base.seq, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].seq, base.seq + 1);

  // Without the base its first record is of a newer epoch: a snapshot.
  auto bare = c.st->apply_replicated(*log);
  ASSERT_TRUE(bare);
  ASSERT_TRUE(bare->shards[0].refused);
  EXPECT_EQ(bare->shards[0].refused->code, errc::not_found);
  // A base of another epoch does not match the copy either.
  auto other = *log;
  other[0].base_epoch = 3;
  auto wrong = c.st->apply_replicated(other);
  ASSERT_TRUE(wrong && wrong->shards[0].refused);

  // Named as the owner ships it, it continues the copy: same data.
  auto named = *log;
  named[0].base_epoch = base.epoch;
  auto took = c.st->apply_replicated(named);
  ASSERT_TRUE(took);
  EXPECT_FALSE(took->shards[0].refused) << took->shards[0].refused->describe();
  EXPECT_EQ(took->shards[0].applied, 2u);
  EXPECT_EQ(took->shards[0].at, (repl_position{2, base.seq + 2}));
  auto owner = b.st->shard_digest(S);
  auto copy = c.st->replica_digest(S);
  ASSERT_TRUE(owner && copy);
  EXPECT_EQ(*owner, *copy);
}

TEST_F(TwoFollowers, AnIdleShardsPromotionStillOpensItsEpochWithARecord) {
  // Nothing to renumber: the new epoch still gets its first record (a
  // Raft leader's first entry), so a follower at the base moves to the new
  // epoch though no commit comes.
  ASSERT_TRUE(b.st->promote_replica({S}, 2));
  auto log = b.st->read_replog(S, start.seq, 10);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].epoch, 2u);
  EXPECT_EQ((*log)[0].seq, start.seq + 1);
  // Nothing renumbered: it holds only the shard's new epoch history.
  v1::ReplRecord first;
  ASSERT_TRUE(first.ParseFromString((*log)[0].record));
  ASSERT_EQ(first.changes_size(), 1);
  EXPECT_EQ(first.changes(0).kind(), v1::REPL_INBOX);
  EXPECT_EQ(first.changes(0).name(), epoch_history_name());
  (*log)[0].base_epoch = start.epoch;
  auto took = c.st->apply_replicated(*log);
  ASSERT_TRUE(took);
  EXPECT_FALSE(took->shards[0].refused) << took->shards[0].refused->describe();
  EXPECT_EQ(took->shards[0].at, (repl_position{2, start.seq + 1}));
}

TEST_F(TwoFollowers, AFollowerBehindThePromotionsStartNeedsASnapshot) {
  // b gets every record, c all but the last.
  workload([&](const std::string&) { ship(S); });
  auto at_c = c.st->replica_position(S);
  ASSERT_TRUE(at_c && *at_c);
  auto upto = a.st->read_replog(S, (*at_c)->seq, 100000);
  ASSERT_TRUE(upto && upto->size() > 1);
  upto->pop_back();
  ASSERT_TRUE(c.st->apply_replicated(*upto));

  ASSERT_TRUE(b.st->promote_replica({S}, 2));
  write_batch more;
  more.appends = {append(b.parse, k, "k#after")};
  commit(b, std::move(more));
  auto base = b.st->replog_position(S);
  ASSERT_TRUE(base && *base);
  auto log = b.st->read_replog(S, (*base)->seq - 1, 10);
  ASSERT_TRUE(log && log->size() == 1u);
  (*log)[0].base_epoch = 1;
  auto r = c.st->apply_replicated(*log);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->shards[0].refused);
  EXPECT_EQ(r->shards[0].refused->code, errc::not_found);
}

TEST_F(ReplicaPromotion, APromotionNeedsACopyAndAHigherEpoch) {
  snapshot(S);
  auto none = b.st->promote_replica({S + 1}, 2);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, errc::not_found);
  auto same = b.st->promote_replica({S}, 1);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, errc::invalid_argument);
  auto owned = a.st->promote_replica({S}, 2);
  ASSERT_FALSE(owned);
  EXPECT_EQ(owned.error().code, errc::invalid_argument);
  // Nothing changed: the copy is still there to promote.
  auto copy = b.st->replica_position(S);
  ASSERT_TRUE(copy && *copy);
  ASSERT_TRUE(b.st->promote_replica({S}, 2));
}

TEST_F(ReplicaPromotion, AShardHandedInSupersedesTheReplicaCopy) {
  write_batch b1;
  b1.appends = {append(a.parse, k, "k#1")};
  commit(a, std::move(b1));
  snapshot(S);
  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));
  auto copy = b.st->replica_position(S);
  ASSERT_TRUE(copy);
  EXPECT_FALSE(*copy);
  auto d = b.st->replica_digest(S);
  auto empty = b.st->replica_digest(S + 1);
  ASSERT_TRUE(d && empty);
  EXPECT_EQ(*d, *empty);
}

} // namespace

} // namespace sluice::cluster_store_test
