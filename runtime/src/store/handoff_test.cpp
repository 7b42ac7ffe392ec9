// Both sides of a hand-off on real data directories: every record of a
// shard moves from one member to the other, a release drops damaged records
// too, and a begin_import wipes what an interrupted transfer left, before
// or after a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cluster_store_test_support.hpp"

using namespace sluice;
using namespace sluice::cluster_store_test;

TEST_F(ClusterStore, AHandOffMovesStateQueueStatusRetriesTimersAndWatermarks) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  auto kt = key_in(T, "k"), jt = key_in(T, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_NO_FATAL_FAILURE(seed(a, kt, jt, 4000));
  auto w = a.st->receive_forwarded(
      "c",
      {{S, 7, a.parse, priority::normal, k, event_bytes(k, k + "#fwd"), {}},
       {T, 4, a.parse, priority::normal, kt, event_bytes(kt, "t#fwd"), {}}});
  ASSERT_TRUE(w);
  ASSERT_EQ(w->accepted, 2u);

  // What A holds for S, to compare B with.
  std::set<std::uint64_t> a_seqs;
  for (auto stage : {a.parse, a.score})
    for (auto p : {priority::urgent, priority::normal})
      for (auto& e : queue(a, stage, p))
        a_seqs.insert(e.pos.seq);
  auto a_state_k = state_of(a, a.parse, k), a_state_j = state_of(a, a.parse, j);
  auto a_status_j = a.st->read_status(j);
  ASSERT_TRUE(a_status_j && *a_status_j);
  auto t_before = described(scan(a, {T}));

  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 99));
  EXPECT_EQ(a.place->state(S), shard_state::leaving);
  auto recs = scan(a, {S});
  std::map<kind, int> counts;
  for (auto& r : recs) {
    EXPECT_EQ(r.shard, S) << describe(r);
    counts[r.what]++;
  }
  EXPECT_EQ(counts[kind::queued], 5);
  EXPECT_EQ(counts[kind::state], 2);
  EXPECT_EQ(counts[kind::status], 2);
  EXPECT_EQ(counts[kind::retry], 1);
  EXPECT_EQ(counts[kind::timer], 1);
  EXPECT_EQ(counts[kind::inbox], 1);
  // Queued events first, then the records that point at them: an import
  // in several calls finds the new positions of what came before.
  auto first_other = std::find_if(
      recs.begin(), recs.end(), [](auto& r) { return r.what != kind::queued; });
  EXPECT_EQ(first_other - recs.begin(), 5);
  EXPECT_TRUE(std::none_of(first_other, recs.end(),
                           [](auto& r) { return r.what == kind::queued; }));

  // B has used seqs of its own (outbox entries of another shard), so the
  // imported events cannot keep A's.
  ASSERT_NO_FATAL_FAILURE(open(b));
  write_batch pre;
  for (int i = 0; i < 20; ++i)
    pre.appends.push_back(append(b.parse, kt, "b-pre-" + std::to_string(i)));
  EXPECT_EQ(commit(b, std::move(pre)).outboxed, 20u);

  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(recs));
  // Not owned until acquired: forwards for S are still refused.
  EXPECT_EQ(b.place->state(S), shard_state::remote);
  auto early = b.st->receive_forwarded(
      "c", {{S, 8, b.parse, priority::normal, k, event_bytes(k, "early"), {}}});
  ASSERT_TRUE(early);
  EXPECT_EQ(early->refused_shards, std::vector<std::uint32_t>{S});
  write_batch too_soon; // nor does its imported timer fire yet
  too_soon.timer_fires.push_back({b.parse, 5000});
  EXPECT_EQ(commit(b, std::move(too_soon)).timers_fired, 0u);
  auto acq = b.st->acquire_shards({S}, 2);
  ASSERT_TRUE(acq) << acq.error().describe();
  EXPECT_TRUE(acq->rewind);
  EXPECT_EQ(b.place->state(S), shard_state::owned);
  EXPECT_TRUE(b.place->queues_here(S));
  EXPECT_TRUE(b.place->dispatches_here(S));
  auto shards = b.st->shard_records();
  ASSERT_TRUE(shards);
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ(shards->front().shard, S);
  EXPECT_EQ(shards->front().epoch, 2u);
  EXPECT_FALSE(shards->front().leaving);

  // States, byte for byte.
  EXPECT_EQ(state_of(b, b.parse, k), a_state_k);
  EXPECT_EQ(state_of(b, b.parse, j), a_state_j);
  EXPECT_EQ(state_of(b, b.parse, kt), "<none>");

  // Queued events in the same order, under new seqs.
  auto urgent = queue(b, b.parse, priority::urgent);
  auto normal = queue(b, b.parse, priority::normal);
  auto scored = queue(b, b.score, priority::normal);
  EXPECT_EQ(ids_of(urgent), std::vector<std::string>{k + "#2"});
  EXPECT_EQ(ids_of(normal),
            (std::vector<std::string>{j + "#1", k + "#3", k + "#fwd"}));
  EXPECT_EQ(ids_of(scored), std::vector<std::string>{k + "#emit"});
  ASSERT_EQ(urgent.size() + normal.size() + scored.size(), 5u);
  for (auto* q : {&urgent, &normal, &scored})
    for (auto& e : *q)
      EXPECT_EQ(a_seqs.count(e.pos.seq), 0u)
          << id_of(e.bytes) << " kept A's seq " << e.pos.seq;

  // k's status waits for the new position of its emit.
  auto status = b.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus st;
  ASSERT_TRUE(st.ParseFromString(**status));
  EXPECT_EQ(st.phase(), v1::PHASE_QUEUED);
  EXPECT_TRUE(st.queued_known());
  EXPECT_EQ(st.queued_priority(), 1u);
  ASSERT_EQ(scored.size(), 1u);
  EXPECT_EQ(st.queued_seq(), scored.front().pos.seq);
  bool k_waits = false;
  ASSERT_TRUE(b.st->scan_status(
      [&](const std::string& key, const std::string&, bool waits) {
        if (key == k)
          k_waits = waits;
        return true;
      }));
  EXPECT_TRUE(k_waits);
  auto status_j = b.st->read_status(j);
  ASSERT_TRUE(status_j && *status_j);
  EXPECT_EQ(**status_j, **a_status_j);

  // j's retry points at its failed event's new position.
  auto retry = b.st->read_retry(b.parse, j);
  ASSERT_TRUE(retry && *retry);
  ASSERT_FALSE(normal.empty());
  EXPECT_EQ((*retry)->pos, normal.front().pos);
  EXPECT_EQ((*retry)->due_ns, 9000);
  v1::RetryRecord rr;
  ASSERT_TRUE(rr.ParseFromString((*retry)->record));
  ASSERT_EQ(rr.attempts_size(), 1);
  EXPECT_EQ(rr.attempts(0).error(), "first try of " + j + " failed");

  // k's durable timer is pending in B, and fires there.
  auto timers = b.st->read_timers(b.parse, k);
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 1u);
  EXPECT_EQ(timers->front().name, "remind");
  EXPECT_EQ(timers->front().due_ns, 5000);
  EXPECT_EQ(id_of(timers->front().event_bytes), k + "#timer");
  EXPECT_EQ(*b.st->next_timer_due(b.parse), std::optional<std::int64_t>{5000});
  EXPECT_EQ(*b.st->timers_pending(), 1u);
  write_batch fire;
  fire.timer_fires.push_back({b.parse, 5000});
  EXPECT_EQ(commit(b, std::move(fire)).timers_fired, 1u);
  EXPECT_EQ(ids_of(queue(b, b.parse, priority::normal)).back(), k + "#timer");
  EXPECT_EQ(*b.st->timers_pending(), 0u);

  // c's watermark for S came along: what A had taken is a duplicate here.
  auto dup = b.st->receive_forwarded(
      "c", {{S, 7, b.parse, priority::normal, k, event_bytes(k, "again"), {}}});
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->accepted, 0u);
  EXPECT_EQ(dup->duplicates, 1u);
  auto next = b.st->receive_forwarded(
      "c", {{S, 8, b.parse, priority::normal, k, event_bytes(k, "next"), {}}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->accepted, 1u);

  // A lets go: nothing of S is left there, and T is as it was.
  ASSERT_TRUE(a.st->release_shards({S}));
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  EXPECT_TRUE(scan(a, {S}).empty());
  EXPECT_EQ(state_of(a, a.parse, k), "<none>");
  EXPECT_EQ(state_of(a, a.parse, j), "<none>");
  EXPECT_FALSE(*a.st->read_status(k));
  EXPECT_FALSE(*a.st->read_retry(a.parse, j));
  EXPECT_TRUE(a.st->read_timers(a.parse, k)->empty());
  EXPECT_EQ(*a.st->next_timer_due(a.parse), std::optional<std::int64_t>{4000});
  for (auto& key : queued_keys(a))
    EXPECT_NE(shard_of(key), S) << key;
  auto a_shards = a.st->shard_records();
  ASSERT_TRUE(a_shards);
  EXPECT_EQ(a_shards->size(), shard_count - 1);
  for (auto& r : *a_shards)
    EXPECT_NE(r.shard, S);
  EXPECT_EQ(described(scan(a, {T})), t_before);
  EXPECT_EQ(
      state_of(a, a.parse, kt), "1:" + [&] {
        v1::KeyState ks;
        ks.set_state(kt + "-v1");
        return ks.SerializeAsString();
      }());
  // And after a restart A still knows S is not its own.
  ASSERT_NO_FATAL_FAILURE(open(a));
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  EXPECT_EQ(a.place->state(T), shard_state::owned);
}

TEST_F(ClusterStore, AReleaseDropsTheShardsDamagedRecordsAndKeepsOthers) {
  // An owner that read a damaged record gives the shard to a replica and
  // drops what it holds of it: the release must not stop at the damage.
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  auto kt = key_in(T, "k"), jt = key_in(T, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_NO_FATAL_FAILURE(seed(a, kt, jt, 4000));
  // Damage on disk: values whose checksums fail, in S and in T.
  ASSERT_TRUE(
      a.st->put_raw("state", keys::state_key(a.parse, k), "garbage", false));
  ASSERT_TRUE(
      a.st->put_raw("state", keys::state_key(a.score, k), "garbage", false));
  ASSERT_TRUE(a.st->put_raw("status", j, "garbage", false));
  ASSERT_TRUE(
      a.st->put_raw("state", keys::state_key(a.parse, kt), "garbage", false));
  auto damaged = a.st->read_state(a.parse, k);
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, errc::corrupt);
  // A hand-off's scan still refuses to send damaged data.
  EXPECT_FALSE(a.st->scan_handoff({S}, [](handoff_record&) { return true; }));

  auto released = a.st->release_shards({S});
  ASSERT_TRUE(released) << released.error().describe();
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  for (auto stage : {a.parse, a.score}) {
    auto after = a.st->read_state(stage, k);
    ASSERT_TRUE(after) << after.error().describe();
    EXPECT_FALSE(*after);
  }
  auto status = a.st->read_status(j);
  ASSERT_TRUE(status) << status.error().describe();
  EXPECT_FALSE(*status);
  EXPECT_EQ(state_of(a, a.parse, j), "<none>");
  // T's damage is T's: still there, still refused.
  auto t = a.st->read_state(a.parse, kt);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, errc::corrupt);
  EXPECT_NE(state_of(a, a.parse, jt), "<none>");
}

TEST_F(ClusterStore, ABeginImportWipesWhatAnInterruptedTransferLeft) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  auto first = scan(a, {S});
  ASSERT_EQ(first.back().what, kind::timer);

  // The first transfer brings every record, but is cut off before B
  // acquires S.
  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(first));
  ASSERT_EQ(*b.st->timers_pending(), 1u);

  // A takes S back meanwhile, processes k's urgent event (and cancels the
  // timer with it), then hands S off again.
  ASSERT_TRUE(a.st->reclaim_shards({S}));
  auto c = complete(a.parse, k, pos_of(a, a.parse, k + "#2"), 1, "k-v2");
  c.timers.push_back({"remind", true, false, 0, priority::normal, ""});
  write_batch done;
  done.completions.push_back(std::move(c));
  ASSERT_EQ(commit(a, std::move(done)).consumed.size(), 1u);
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 2));
  auto second = scan(a, {S});

  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(second));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));

  // B holds the second transfer and nothing of the first.
  EXPECT_TRUE(queue(b, b.parse, priority::urgent).empty());
  EXPECT_EQ(ids_of(queue(b, b.parse, priority::normal)),
            (std::vector<std::string>{j + "#1", k + "#3"}));
  EXPECT_EQ(ids_of(queue(b, b.score, priority::normal)),
            std::vector<std::string>{k + "#emit"});
  EXPECT_EQ(state_of(b, b.parse, k), state_of(a, a.parse, k));
  EXPECT_EQ(state_of(b, b.parse, k).substr(0, 2), "2:");
  EXPECT_TRUE(b.st->read_timers(b.parse, k)->empty());
  EXPECT_EQ(*b.st->timers_pending(), 0u);
  auto retry = b.st->read_retry(b.parse, j);
  ASSERT_TRUE(retry && *retry);
  EXPECT_EQ((*retry)->pos, pos_of(b, b.parse, j + "#1"));
  auto status = b.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus st;
  ASSERT_TRUE(st.ParseFromString(**status));
  EXPECT_TRUE(st.queued_known());
  EXPECT_EQ(st.queued_seq(), pos_of(b, b.score, k + "#emit").seq);
  EXPECT_EQ(scan(b, {S}).size(), second.size());
}

TEST_F(ClusterStore, ABeginImportAfterARestartWipesWhatTheTransferLeft) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  auto recs = scan(a, {S});

  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(
      std::vector<handoff_record>(recs.begin(), recs.begin() + 3)));
  ASSERT_NO_FATAL_FAILURE(open(b)); // B restarts mid-transfer
  EXPECT_EQ(b.place->state(S), shard_state::remote);

  // The transfer starts over, one record per call.
  ASSERT_TRUE(b.st->begin_import({S}));
  for (auto& r : recs)
    ASSERT_TRUE(b.st->import_handoff({r}));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));

  EXPECT_EQ(ids_of(queue(b, b.parse, priority::urgent)),
            std::vector<std::string>{k + "#2"});
  EXPECT_EQ(ids_of(queue(b, b.parse, priority::normal)),
            (std::vector<std::string>{j + "#1", k + "#3"}));
  EXPECT_EQ(ids_of(queue(b, b.score, priority::normal)),
            std::vector<std::string>{k + "#emit"});
  auto retry = b.st->read_retry(b.parse, j);
  ASSERT_TRUE(retry && *retry);
  EXPECT_EQ((*retry)->pos, pos_of(b, b.parse, j + "#1"));
  auto status = b.st->read_status(k);
  ASSERT_TRUE(status && *status);
  v1::KeyStatus st;
  ASSERT_TRUE(st.ParseFromString(**status));
  EXPECT_TRUE(st.queued_known());
  EXPECT_EQ(st.queued_seq(), pos_of(b, b.score, k + "#emit").seq);
}
