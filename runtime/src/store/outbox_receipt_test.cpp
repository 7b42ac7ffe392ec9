// The store's traffic between members on real data directories: appends for
// shards owned elsewhere go to the outbox in the commit's transaction, and
// forwarded events are received once, deduplicated by watermarks.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cluster_store_test_support.hpp"

using namespace sluice;
using namespace sluice::cluster_store_test;

TEST_F(ClusterStore,
       AppendsForShardsOwnedElsewhereGoToTheOutboxInTheSameTransaction) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  a.place->set(S, shard_state::owned);
  auto mine = key_in(S, "mine"), theirs = key_in(T, "theirs");
  auto other = key_in(T + 1, "other");

  // A batch that fails (an owned key for a stage that does not exist)
  // leaves neither the queue nor the outbox changed.
  write_batch bad;
  bad.appends.push_back(append(a.parse, theirs, "lost-1"));
  bad.appends.push_back(append(99, mine, "lost-2"));
  ASSERT_FALSE(a.st->commit(bad));
  EXPECT_EQ(*a.st->outbox_depth(), 0u);

  write_batch batch;
  batch.appends.push_back(append(a.parse, mine, "m-normal"));
  auto with_key = append(a.parse, theirs, "t-normal");
  with_key.key = theirs; // the key given: the store need not decode
  batch.appends.push_back(with_key);
  batch.appends.push_back(append(a.parse, other, "o-urgent", priority::urgent));
  batch.appends.push_back(append(a.parse, mine, "m-urgent", priority::urgent));
  batch.appends.push_back(append(a.score, theirs, "t-score"));
  auto rep = commit(a, std::move(batch));
  EXPECT_EQ(rep.outboxed, 3u);
  EXPECT_EQ(rep.records, 5u);
  EXPECT_EQ(rep.appended[a.parse], (std::array<std::uint64_t, 2>{1, 1}));
  EXPECT_EQ(rep.appended.count(a.score), 0u);

  // The owned key's events are queued; nothing else is.
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::urgent)),
            std::vector<std::string>{"m-urgent"});
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            std::vector<std::string>{"m-normal"});
  EXPECT_EQ(*a.st->queue_depth(a.score), (std::array<std::uint64_t, 2>{0, 0}));

  // The others wait in the outbox, urgent first, with stage and shard.
  EXPECT_EQ(*a.st->outbox_depth(), 3u);
  auto out = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_TRUE(out) << out.error().describe();
  ASSERT_EQ(out->size(), 3u);
  auto& o = (*out)[0];
  EXPECT_EQ(o.pos.priority, priority::urgent);
  EXPECT_EQ(o.stage_id, a.parse);
  EXPECT_EQ(o.shard, shard_of(other));
  EXPECT_EQ(o.event_bytes, event_bytes(other, "o-urgent"));
  EXPECT_EQ((*out)[1].pos.priority, priority::normal);
  EXPECT_EQ((*out)[1].stage_id, a.parse);
  EXPECT_EQ((*out)[1].shard, T);
  EXPECT_EQ((*out)[1].event_bytes, event_bytes(theirs, "t-normal"));
  EXPECT_EQ((*out)[2].pos.priority, priority::normal);
  EXPECT_EQ((*out)[2].stage_id, a.score);
  EXPECT_EQ((*out)[2].shard, T);
  EXPECT_EQ((*out)[2].event_bytes, event_bytes(theirs, "t-score"));
  // Outbox seqs come from the store's one counter: none repeats a queue's.
  std::set<std::uint64_t> seqs;
  for (auto& e : *out)
    seqs.insert(e.pos.seq);
  seqs.insert(pos_of(a, a.parse, "m-normal").seq);
  seqs.insert(pos_of(a, a.parse, "m-urgent").seq);
  EXPECT_EQ(seqs.size(), 5u);

  // Reading on from a position, and deleting what was acknowledged.
  auto rest = a.st->read_outbox({priority::normal, (*out)[1].pos.seq + 1}, 10);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(id_of(rest->front().event_bytes), "t-score");
  ASSERT_TRUE(a.st->delete_outbox({(*out)[0].pos, (*out)[2].pos}));
  EXPECT_EQ(*a.st->outbox_depth(), 1u);
  auto left = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(id_of(left->front().event_bytes), "t-normal");

  // The outbox survives a restart, and new seqs go past its entries.
  ASSERT_NO_FATAL_FAILURE(open(a));
  EXPECT_EQ(*a.st->outbox_depth(), 1u);
  write_batch more;
  more.appends.push_back(append(a.parse, theirs, "t-later"));
  commit(a, std::move(more)); // every shard is remote after the reopen
  auto after = a.st->read_outbox({priority::normal, 0}, 10);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_GT(after->at(1).pos.seq, *seqs.rbegin());
}

TEST_F(ClusterStore, AFilteredOutboxReadReturnsOnlyWhatItTakes) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  auto theirs = key_in(T, "theirs"), other = key_in(T + 1, "other");
  write_batch batch;
  batch.appends.push_back(append(a.parse, theirs, "t-1"));
  batch.appends.push_back(append(a.parse, other, "o-1"));
  batch.appends.push_back(append(a.score, theirs, "t-2"));
  batch.appends.push_back(append(a.parse, other, "o-2"));
  commit(a, std::move(batch));
  ASSERT_EQ(*a.st->outbox_depth(), 4u);

  // The filter sees every entry's position, stage, shard and size first;
  // only what it takes is returned, in outbox order.
  std::vector<outbox_peek> seen;
  auto out =
      a.st->read_outbox({priority::urgent, 0}, 10, [&](const outbox_peek& e) {
        seen.push_back(e);
        return e.shard == T ? outbox_pick::take : outbox_pick::skip;
      });
  ASSERT_TRUE(out) << out.error().describe();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].shard, shard_of(other));
  EXPECT_EQ(seen[2].stage_id, a.score);
  EXPECT_EQ(seen[0].event_bytes, event_bytes(theirs, "t-1").size());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ(id_of((*out)[0].event_bytes), "t-1");
  EXPECT_EQ(id_of((*out)[1].event_bytes), "t-2");
  EXPECT_EQ((*out)[1].stage_id, a.score);
  EXPECT_EQ((*out)[1].pos.seq, seen[2].pos.seq);

  // `max` bounds the entries looked at, taken or not.
  seen.clear();
  auto none =
      a.st->read_outbox({priority::urgent, 0}, 2, [&](const outbox_peek& e) {
        seen.push_back(e);
        return outbox_pick::skip;
      });
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(seen.size(), 2u);

  // `stop` ends the read before the entry it is given.
  auto before_score =
      a.st->read_outbox({priority::urgent, 0}, 10, [&](const outbox_peek& e) {
        return e.stage_id == a.score ? outbox_pick::stop : outbox_pick::take;
      });
  ASSERT_TRUE(before_score);
  ASSERT_EQ(before_score->size(), 2u);
  EXPECT_EQ(id_of((*before_score)[1].event_bytes), "o-1");
}

TEST_F(ClusterStore, AnEmitForAShardOwnedElsewhereLeavesTheStatusUnpositioned) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  a.place->set(S, shard_state::owned);
  auto k = key_in(S, "k"), far = key_in(T, "far");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k#1"));
  commit(a, std::move(b1));
  auto c = complete(a.parse, k, pos_of(a, a.parse, "k#1"), 0, "v1");
  v1::KeyStatus queued;
  queued.set_stage("score");
  queued.set_phase(v1::PHASE_QUEUED);
  c.key_status = queued.SerializeAsString();
  c.emits.push_back(append(a.score, k, "k#local"));
  c.emits.push_back(append(a.score, far, "far#remote"));
  c.status_emit = 1; // the one that went to the outbox
  write_batch b2;
  b2.completions.push_back(std::move(c));
  auto rep = commit(a, std::move(b2));
  EXPECT_EQ(rep.consumed.size(), 1u);
  EXPECT_EQ(rep.outboxed, 1u);
  EXPECT_EQ(ids_of(queue(a, a.score, priority::normal)),
            std::vector<std::string>{"k#local"});
  auto status = a.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus got;
  ASSERT_TRUE(got.ParseFromString(**status));
  EXPECT_EQ(got.phase(), v1::PHASE_QUEUED);
  // It waits in another node's queue: no position of this one is claimed.
  EXPECT_FALSE(got.queued_known());
}

TEST_F(ClusterStore, ForwardedEventsAreQueuedOnceAndShardsNotOwnedAreRefused) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  const std::uint32_t s1 = S, s2 = S + 1, r = T;
  a.place->set(s1, shard_state::owned);
  a.place->set(s2, shard_state::owned);
  a.place->set(r + 1, shard_state::leaving); // handing off: refused too
  auto k1 = key_in(s1, "a"), k2 = key_in(s2, "b"), kr = key_in(r, "c");
  auto kl = key_in(r + 1, "d");
  auto fwd = [&](std::uint32_t shard, std::uint64_t seq, const std::string& k,
                 const std::string& id, priority p = priority::normal) {
    return forwarded_event{shard, seq, a.parse, p, k, event_bytes(k, id), {}};
  };
  std::vector<forwarded_event> evs{
      fwd(s1, 1, k1, "s1-1"), fwd(s1, 2, k1, "s1-2", priority::urgent),
      fwd(s2, 1, k2, "s2-1"), fwd(r, 3, kr, "r-3"), fwd(r + 1, 4, kl, "l-4")};
  auto got = a.st->receive_forwarded("b", evs);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->accepted, 3u);
  EXPECT_EQ(got->duplicates, 0u);
  EXPECT_EQ(got->refused_shards, (std::vector<std::uint32_t>{r, r + 1}));
  ASSERT_EQ(got->appended.size(), 1u);
  EXPECT_EQ(got->appended[0].first, a.parse);
  EXPECT_EQ(got->appended[0].second, (std::array<std::uint64_t, 2>{1, 2}));
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::urgent)),
            std::vector<std::string>{"s1-2"});
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            (std::vector<std::string>{"s1-1", "s2-1"}));

  // The sender did not hear the acknowledgement and sends it all again.
  auto again = a.st->receive_forwarded("b", evs);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->accepted, 0u);
  EXPECT_EQ(again->duplicates, 3u);
  EXPECT_EQ(again->refused_shards, (std::vector<std::uint32_t>{r, r + 1}));
  EXPECT_TRUE(again->appended.empty());
  EXPECT_EQ(*a.st->queue_depth(a.parse), (std::array<std::uint64_t, 2>{1, 2}));

  // Old and new in one batch: only the new one is queued. (An outbox seq
  // has one priority: s1-2 was urgent.)
  auto mixed = a.st->receive_forwarded(
      "b", {fwd(s1, 2, k1, "s1-2", priority::urgent), fwd(s1, 5, k1, "s1-5")});
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->accepted, 1u);
  EXPECT_EQ(mixed->duplicates, 1u);

  // Watermarks are per sender: c's seq 1 is not b's.
  auto from_c = a.st->receive_forwarded("c", {fwd(s1, 1, k1, "c-1")});
  ASSERT_TRUE(from_c);
  EXPECT_EQ(from_c->accepted, 1u);
  EXPECT_EQ(from_c->duplicates, 0u);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            (std::vector<std::string>{"s1-1", "s2-1", "s1-5", "c-1"}));

  // They survive a restart.
  ASSERT_NO_FATAL_FAILURE(open(a));
  a.place->set(s1, shard_state::owned);
  auto later = a.st->receive_forwarded(
      "b", {fwd(s1, 5, k1, "s1-5"), fwd(s1, 6, k1, "s1-6")});
  ASSERT_TRUE(later);
  EXPECT_EQ(later->accepted, 1u);
  EXPECT_EQ(later->duplicates, 1u);
  // Nothing of a refused shard was queued at any point.
  for (auto& k : queued_keys(a))
    EXPECT_TRUE(k != kr && k != kl) << k;
}

// The forwarder sends outbox entries in `read_outbox` order (urgent before
// normal, each by seq), so within a shard the seqs it sends need not rise.
TEST_F(ClusterStore, EventsForwardedInOutboxOrderAreAllQueued) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  b.place->set(S, shard_state::owned);
  auto k = key_in(S, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k-normal"));
  commit(a, std::move(b1));
  write_batch b2;
  b2.appends.push_back(append(a.parse, k, "k-urgent", priority::urgent));
  commit(a, std::move(b2));
  auto out = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 2u);
  std::vector<forwarded_event> evs;
  for (auto& e : *out) // as the forwarder builds its batch
    evs.push_back({e.shard,
                   e.pos.seq,
                   e.stage_id,
                   e.pos.priority,
                   {},
                   e.event_bytes,
                   e.origin});
  auto got = b.st->receive_forwarded("a", evs);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->accepted, 2u);
  EXPECT_EQ(got->duplicates, 0u);
  EXPECT_EQ(*b.st->queue_depth(b.parse), (std::array<std::uint64_t, 2>{1, 1}));
}
