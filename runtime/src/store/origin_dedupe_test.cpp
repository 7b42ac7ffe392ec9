// Forwarded events deduplicated per source shard across a failover: an
// outbox entry keeps its origin through replication and promotion, so the
// target tells it again when the promoted replica forwards it under its
// own name, and still takes the replica's newer entries; entries indexed
// before origins existed (the short `outbox_src` value) forward as before.
#include <gtest/gtest.h>

#include "replication_workload.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cluster_store_test {

namespace {

/// a owns S (and every shard but T) with b following S; c owns T, where
/// the events of S's keys for x go.
struct OriginDedupe : Replication {
  member c;

  void SetUp() override {
    Replication::SetUp();
    c.dir = root + "/c";
    ASSERT_NO_FATAL_FAILURE(open(c, true));
    ASSERT_TRUE(c.st->begin_import({T}));
    ASSERT_TRUE(c.st->acquire_shards({T}, 1));
  }
  void TearDown() override {
    c.st.reset();
    Replication::TearDown();
  }

  /// The outbox entries in b's copy of `shard`.
  std::size_t outbox_records_in_copy(std::uint32_t shard) {
    std::size_t n = 0;
    EXPECT_TRUE(b.st->scan_replica(shard, [&](handoff_record& rec) {
      n += rec.what == kind::outbox;
      return true;
    }));
    return n;
  }

  /// `evs` received by c from `sender`; nothing refused.
  forward_receipt forward(const std::string& sender,
                          std::vector<forwarded_event> evs) {
    auto r = c.st->receive_forwarded(sender, std::move(evs));
    EXPECT_TRUE(r) << r.error().describe();
    if (!r)
      return {};
    EXPECT_TRUE(r->refused_shards.empty());
    return *r;
  }

  /// The ids of the events queued at c, per stage ("parse: ..., score:").
  std::string queued_at_c() {
    std::string out;
    for (auto [name, stage] :
         {std::pair{"parse", c.parse}, {"score", c.score}}) {
      out += std::string(out.empty() ? "" : " ") + name + ":";
      for (auto& id : ids_of(queue(c, stage, priority::normal)))
        out += " " + id;
    }
    return out;
  }

  /// Processes `key`'s queued event `id` on `m` (its state at `base`),
  /// emitting `emits`.
  void process(member& m, std::uint32_t stage, const std::string& key,
               const std::string& id, std::uint64_t base,
               std::vector<queue_append> emits) {
    auto done = complete(stage, key, pos_of(m, stage, id), base, id + "-done");
    done.emits = std::move(emits);
    write_batch b;
    b.completions.push_back(std::move(done));
    EXPECT_EQ(commit(m, std::move(b)).consumed.size(), 1u) << id;
  }
};

TEST_F(OriginDedupe, APromotedReplicaForwardingTheSameEntryAgainIsADuplicate) {
  snapshot(S);
  write_batch fed;
  fed.appends = {append(a.parse, k, "k#1"), append(a.parse, k, "k#2")};
  commit(a, std::move(fed));
  // Three entries of S for T over two commits; the second commit's first
  // goes to the stage whose name sorts last, so the copy's key order is not
  // their order.
  process(a, a.parse, k, "k#1", 0, {append(a.parse, x, "x#1")});
  process(a, a.parse, k, "k#2", 1,
          {append(a.score, x, "x#2"), append(a.parse, x, "x#3")});
  ship(S);
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "emitted"));

  auto from_a = outbox_of(a);
  ASSERT_EQ(from_a.size(), 3u);
  for (std::size_t i = 0; i < from_a.size(); ++i) {
    ASSERT_TRUE(from_a[i].origin) << i;
    EXPECT_EQ(from_a[i].origin->shard, S);
    if (i > 0) {
      EXPECT_LT(*from_a[i - 1].origin, *from_a[i].origin) << i;
    }
  }
  EXPECT_EQ(from_a[1].origin->seq, from_a[2].origin->seq); // one commit
  EXPECT_EQ(from_a[2].origin->index, from_a[1].origin->index + 1);

  // c takes x#1 from a, which deletes it; the delete never reaches b.
  auto first = forward("a", {from_a[0]});
  EXPECT_EQ(first.accepted, 1u);
  ASSERT_TRUE(a.st->delete_outbox({{from_a[0].priority, from_a[0].seq}}));

  // a dies; b takes S over and forwards its copy of the outbox again.
  auto at = a.st->replog_position(S);
  ASSERT_TRUE(at && *at);
  auto promoted = b.st->promote_replica({S}, (*at)->epoch + 1);
  ASSERT_TRUE(promoted) << promoted.error().describe();
  auto from_b = outbox_of(b);
  ASSERT_EQ(from_b.size(), 3u);
  for (std::size_t i = 0; i < from_b.size(); ++i) {
    EXPECT_EQ(id_of(from_b[i].event_bytes), id_of(from_a[i].event_bytes));
    EXPECT_EQ(from_b[i].origin, from_a[i].origin) << i;
  }

  auto again = forward("b", {from_b[0]});
  EXPECT_EQ(again.duplicates, 1u);
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(queued_at_c(), "parse: x#1 score:");

  // The entries c never had are taken, in spite of the copy's key order.
  auto rest = forward("b", {from_b[1], from_b[2]});
  EXPECT_EQ(rest.accepted, 2u);
  EXPECT_EQ(rest.duplicates, 0u);
  EXPECT_EQ(queued_at_c(), "parse: x#1 x#3 score: x#2");
  // Per source shard, not per sender: a's copy of x#2 is one c has now.
  EXPECT_EQ(forward("a", {from_a[1]}).duplicates, 1u);

  // b's own newer entry is not mistaken for one seen before.
  write_batch more;
  more.appends = {append(b.parse, k, "k#3")};
  commit(b, std::move(more));
  process(b, b.parse, k, "k#3", 2, {append(b.parse, x, "x#4")});
  auto all = outbox_of(b);
  ASSERT_EQ(all.size(), 4u);
  ASSERT_TRUE(all[3].origin);
  EXPECT_EQ(all[3].origin->epoch, (*at)->epoch + 1);
  EXPECT_LT(*from_b[2].origin, *all[3].origin);
  auto newer = forward("b", all);
  EXPECT_EQ(newer.accepted, 1u);
  EXPECT_EQ(newer.duplicates, 3u);
  EXPECT_EQ(queued_at_c(), "parse: x#1 x#3 x#4 score: x#2");
}

// Shards owned by one member fail over one by one: a key's emit to another
// shard owned here is a record of the key's shard (an outbox entry with its
// origin), not of the other shard's log, so no failover of one of them
// alone loses it (consumed, never queued) or repeats it (queued, not
// consumed). The member forwards it to itself, deduplicated by origin.
TEST_F(OriginDedupe,
       AGivenUpShardTakesItsKeysOutboxEntriesAndDeadLettersAlong) {
  // a processes k (shard S): one event emits for x (shard T, c's), the
  // other is dead-lettered. Given up (its new owner's copy holds what was
  // replicated; the rest is void), S leaves nothing of its keys here: an
  // outbox entry left behind was forwarded once nothing fenced it, while
  // the new owner ran k again and emitted the same event again.
  write_batch fed;
  fed.appends = {append(a.parse, k, "k#1"), append(a.parse, k, "k#2")};
  commit(a, std::move(fed));
  process(a, a.parse, k, "k#1", 0, {append(a.score, x, "x#from-k")});
  v1::DeadLetter dl;
  dl.set_key(k);
  dl.set_stage("parse");
  auto dead = complete(a.parse, k, pos_of(a, a.parse, "k#2"), 1, "k#2-done");
  dead.dead_letter = dl.SerializeAsString();
  write_batch b2;
  b2.completions.push_back(std::move(dead));
  commit(a, std::move(b2));
  auto letters = [&] {
    std::size_t n = 0;
    EXPECT_TRUE(a.st->scan_dead_letters(
        [&](std::uint32_t, std::uint64_t, const std::string&) {
          ++n;
          return true;
        }));
    return n;
  };
  ASSERT_EQ(outbox_of(a).size(), 1u);
  ASSERT_EQ(letters(), 1u);

  ASSERT_TRUE(a.st->release_shards({S}));
  EXPECT_TRUE(outbox_of(a).empty());
  EXPECT_EQ(letters(), 0u);
  auto depth = a.st->outbox_depth();
  ASSERT_TRUE(depth);
  EXPECT_EQ(*depth, 0u);
}

TEST_F(OriginDedupe, AnEmitToAnotherShardOwnedHereIsARecordOfTheEmittingShard) {
  constexpr std::uint32_t U = 11; // owned by a, as S is
  auto y = key_in(U, "y");
  snapshot(S);
  write_batch fed;
  fed.appends = {append(a.parse, k, "k#1"), append(a.parse, y, "y#1")};
  commit(a, std::move(fed));
  auto u_before = a.st->replog_position(U);
  ASSERT_TRUE(u_before && *u_before);
  process(a, a.parse, k, "k#1", 0,
          {append(a.score, y, "y#from-k"), append(a.score, k, "k#same")});

  // U's log has no record of the commit; S's holds the emit, in b's copy.
  auto u_after = a.st->replog_position(U);
  ASSERT_TRUE(u_after && *u_after);
  EXPECT_EQ((*u_after)->seq, (*u_before)->seq);
  EXPECT_EQ(ids_of(queue(a, a.score, priority::normal)),
            std::vector<std::string>{"k#same"});
  auto out = outbox_of(a);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shard, U);
  ASSERT_TRUE(out[0].origin);
  EXPECT_EQ(out[0].origin->shard, S);
  ship(S);
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "emitted"));
  EXPECT_EQ(outbox_records_in_copy(S), 1u);

  // Forwarded to a itself it is queued in U; sent again by whoever owns S
  // next, it is a duplicate.
  auto here = a.st->receive_forwarded("a", out);
  ASSERT_TRUE(here) << here.error().describe();
  EXPECT_TRUE(here->refused_shards.empty());
  EXPECT_EQ(here->accepted, 1u);
  auto again = a.st->receive_forwarded("b", out);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->duplicates, 1u);
  EXPECT_EQ(ids_of(queue(a, a.score, priority::normal)),
            (std::vector<std::string>{"k#same", "y#from-k"}));

  // Acknowledged, the entry leaves S's records: the delete is S's newest
  // record, and the report names it, so it ships (and S's watermark can
  // reach the head an on-demand read waits for).
  auto deleted = a.st->delete_outbox({{out[0].priority, out[0].seq}});
  ASSERT_TRUE(deleted) << deleted.error().describe();
  auto head = a.st->replog_position(S);
  ASSERT_TRUE(head && *head);
  ASSERT_EQ(deleted->replicated.count(S), 1u);
  EXPECT_EQ(deleted->replicated.at(S), (*head)->seq);
  ship(S);
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "acknowledged"));
}

TEST_F(OriginDedupe, AnEntryIndexedWithoutAnOriginStillForwardsOnce) {
  write_batch fed;
  fed.appends = {append(a.parse, k, "k#1"), append(a.parse, k, "k#2")};
  commit(a, std::move(fed));
  process(a, a.parse, k, "k#1", 0, {append(a.parse, x, "x#old")});
  auto before = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_TRUE(before && before->size() == 1u);
  // The value a store wrote before origins: the source shard alone.
  std::string short_value;
  keys::put_u32(short_value, S);
  auto old_pos = before->front().pos;
  ASSERT_TRUE(
      a.st->put_raw("outbox_src", keys::queue_key(old_pos), short_value));
  ASSERT_NO_FATAL_FAILURE(open(a, true));

  auto old = outbox_of(a);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_FALSE(old[0].origin);
  snapshot(S);
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "snapshot of an old entry"));

  // Received once, deduplicated by sender and seq as before.
  EXPECT_EQ(forward("a", old).accepted, 1u);
  EXPECT_EQ(forward("a", old).duplicates, 1u);
  // A new entry of the reopened store has an origin, and both go.
  process(a, a.parse, k, "k#2", 1, {append(a.parse, x, "x#new")});
  auto both = outbox_of(a);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_TRUE(both[1].origin);
  auto r = forward("a", both);
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(queued_at_c(), "parse: x#old x#new score:");

  // Acknowledged, the old entry leaves the follower's copy too.
  ship(S);
  ASSERT_TRUE(a.st->delete_outbox({old_pos}));
  ship(S);
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "old entry acknowledged"));
  EXPECT_EQ(outbox_records_in_copy(S), 1u);
}

} // namespace

} // namespace sluice::cluster_store_test
