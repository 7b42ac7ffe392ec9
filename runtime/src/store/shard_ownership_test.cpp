// Shard ownership on real data directories: completions for a shard owned
// elsewhere are fenced, a leaving shard queues nothing new and fires no
// timer, shard records survive reopening, and a reclaim asks for a rewind.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cluster_store_test_support.hpp"

using namespace sluice;
using namespace sluice::cluster_store_test;

TEST_F(ClusterStore, ACompletionForAShardOwnedElsewhereIsFenced) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k#1"));
  commit(a, std::move(b1));
  auto pos = pos_of(a, a.parse, "k#1");
  auto make = [&] {
    auto c = complete(a.parse, k, pos, 0, "from-a-stale-owner");
    v1::KeyStatus queued;
    queued.set_stage("score");
    queued.set_phase(v1::PHASE_QUEUED);
    c.key_status = queued.SerializeAsString();
    c.emits.push_back(append(a.score, k, "k#emit"));
    c.status_emit = 0;
    c.timers.push_back({"remind", false, true, 100, priority::normal,
                        event_bytes(k, "k#timer")});
    c.dead_letter = "not written";
    return c;
  };

  // The cluster gave S to another member while k's event was in flight.
  a.place->set(S, shard_state::remote);
  write_batch b2;
  b2.completions.push_back(make());
  auto rep = commit(a, std::move(b2));
  ASSERT_EQ(rep.duplicates.size(), 1u);
  EXPECT_EQ(rep.duplicates[0].stage_id, a.parse);
  EXPECT_EQ(rep.duplicates[0].pos, pos);
  EXPECT_TRUE(rep.consumed.empty());
  EXPECT_TRUE(rep.appended.empty());
  EXPECT_TRUE(rep.timers.empty());
  EXPECT_EQ(rep.outboxed, 0u);
  EXPECT_EQ(rep.dead_letters, 0u);
  EXPECT_EQ(rep.records, 0u);
  EXPECT_EQ(state_of(a, a.parse, k), "<none>");
  EXPECT_TRUE(*a.st->read_entry(a.parse, pos));
  EXPECT_FALSE(*a.st->read_status(k));
  EXPECT_TRUE(a.st->read_timers(a.parse, k)->empty());
  EXPECT_EQ(*a.st->queue_depth(a.score), (std::array<std::uint64_t, 2>{0, 0}));
  EXPECT_EQ(*a.st->outbox_depth(), 0u);

  // While S is only leaving, what was in flight still commits; its emit
  // goes to the outbox, for the new owner.
  a.place->set(S, shard_state::leaving);
  write_batch b3;
  b3.completions.push_back(make());
  auto rep3 = commit(a, std::move(b3));
  EXPECT_EQ(rep3.consumed.size(), 1u);
  EXPECT_EQ(rep3.outboxed, 1u);
  EXPECT_EQ(state_of(a, a.parse, k).substr(0, 2), "1:");
  EXPECT_FALSE(*a.st->read_entry(a.parse, pos));
}

TEST_F(ClusterStore, ALeavingShardQueuesNothingNewAndFiresNoTimer) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), kt = key_in(T, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "k#1"));
  b1.appends.push_back(append(a.parse, kt, "kt#1"));
  commit(a, std::move(b1));
  write_batch b2;
  std::vector<std::pair<std::string, std::string>> firsts{{k, "k#1"},
                                                          {kt, "kt#1"}};
  for (auto& [key, id] : firsts) {
    auto c = complete(a.parse, key, pos_of(a, a.parse, id), 0, "v1");
    c.timers.push_back({"remind", false, true, 100, priority::normal,
                        event_bytes(key, key + "#timer")});
    b2.completions.push_back(std::move(c));
  }
  ASSERT_EQ(commit(a, std::move(b2)).consumed.size(), 2u);

  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  write_batch b3;
  b3.appends.push_back(append(a.parse, k, "k#2"));
  b3.appends.push_back(append(a.parse, kt, "kt#2"));
  b3.timer_fires.push_back({a.parse, 1000});
  auto rep = commit(a, std::move(b3));
  EXPECT_EQ(rep.outboxed, 1u);
  EXPECT_EQ(rep.timers_fired, 1u);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            (std::vector<std::string>{"kt#2", kt + "#timer"}));
  // k's timer stays, to move with the shard.
  ASSERT_EQ(a.st->read_timers(a.parse, k)->size(), 1u);
  EXPECT_EQ(*a.st->next_timer_due(a.parse), std::optional<std::int64_t>{100});
  auto out = a.st->read_outbox({priority::urgent, 0}, 10);
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(id_of(out->front().event_bytes), "k#2");
}

TEST_F(ClusterStore, ShardOwnershipSurvivesReopening) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  // A fresh directory owns nothing, and counts its starts.
  EXPECT_TRUE(a.st->shard_records()->empty());
  EXPECT_EQ(a.place->shards_in(shard_state::remote).size(), shard_count);
  EXPECT_EQ(*a.st->next_incarnation(), 1u);
  EXPECT_EQ(*a.st->next_incarnation(), 2u);

  ASSERT_TRUE(a.st->claim_all_shards());
  EXPECT_EQ(a.place->shards_in(shard_state::owned).size(), shard_count);
  ASSERT_TRUE(a.st->mark_leaving({S, T}, "b", 42));
  // Leaving a shard not owned is refused, and marks nothing.
  ASSERT_TRUE(a.st->release_shards({T + 1}));
  auto bad = a.st->mark_leaving({S + 1, T + 1}, "c", 43);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);

  ASSERT_NO_FATAL_FAILURE(open(a)); // a fresh placement, all remote
  EXPECT_EQ(a.place->state(S), shard_state::leaving);
  EXPECT_EQ(a.place->state(T), shard_state::leaving);
  EXPECT_EQ(a.place->state(S + 1), shard_state::owned);
  EXPECT_EQ(a.place->state(T + 1), shard_state::remote);
  EXPECT_EQ(a.place->shards_in(shard_state::owned).size(), shard_count - 3);
  auto recs = a.st->shard_records();
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs->size(), shard_count - 1);
  for (auto& r : *recs) {
    EXPECT_EQ(r.epoch, 1u) << r.shard;
    if (r.shard == S || r.shard == T) {
      EXPECT_TRUE(r.leaving);
      EXPECT_EQ(r.target, "b");
      EXPECT_EQ(r.transfer, 42u);
    } else {
      EXPECT_FALSE(r.leaving) << r.shard;
      EXPECT_EQ(r.target, "") << r.shard;
    }
  }
  EXPECT_EQ(*a.st->next_incarnation(), 3u);

  auto again = a.st->claim_all_shards();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::invalid_argument);
  EXPECT_EQ(a.place->state(S), shard_state::leaving);
  EXPECT_EQ(a.place->state(T + 1), shard_state::remote);
  EXPECT_EQ(a.st->shard_records()->size(), shard_count - 1);
}

TEST_F(ClusterStore, ReclaimMakesLeavingShardsOwnedAgainAndAsksForARewind) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  ASSERT_TRUE(a.st->mark_leaving({S, T}, "b", 5));
  auto k = key_in(S, "k");
  write_batch b1;
  b1.appends.push_back(append(a.parse, k, "while-leaving"));
  EXPECT_EQ(commit(a, std::move(b1)).outboxed, 1u);

  auto rep = a.st->reclaim_shards({S});
  ASSERT_TRUE(rep) << rep.error().describe();
  EXPECT_TRUE(rep->rewind);
  EXPECT_EQ(a.place->state(S), shard_state::owned);
  EXPECT_EQ(a.place->state(T), shard_state::leaving);
  auto recs = a.st->shard_records();
  ASSERT_TRUE(recs);
  ASSERT_EQ(recs->size(), shard_count);
  for (auto& r : *recs) {
    if (r.shard == S) {
      EXPECT_FALSE(r.leaving);
      EXPECT_EQ(r.target, "");
      EXPECT_EQ(r.transfer, 0u);
      EXPECT_EQ(r.epoch, 1u);
    } else if (r.shard == T) {
      EXPECT_TRUE(r.leaving);
    }
  }
  write_batch b2;
  b2.appends.push_back(append(a.parse, k, "owned-again"));
  auto r2 = commit(a, std::move(b2));
  EXPECT_EQ(r2.outboxed, 0u);
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            std::vector<std::string>{"owned-again"});

  ASSERT_NO_FATAL_FAILURE(open(a));
  EXPECT_EQ(a.place->state(S), shard_state::owned);
  EXPECT_EQ(a.place->state(T), shard_state::leaving);

  // A shard this directory does not record stays remote.
  ASSERT_NO_FATAL_FAILURE(open(b));
  auto none = b.st->reclaim_shards({S});
  ASSERT_TRUE(none);
  EXPECT_EQ(b.place->state(S), shard_state::remote);
  EXPECT_TRUE(b.st->shard_records()->empty());
}
