// The sender's side of a hand-off in two steps: the shards are handed over
// in a small transaction (remote at once, marked for purging) and their
// records purged after; a shard handed back before its purge keeps only
// what came back; a restart purges what a hand-over left.
#include <gtest/gtest.h>

#include "cluster_store_test_support.hpp"

using namespace sluice;
using namespace sluice::cluster_store_test;

TEST_F(ClusterStore, AHandOverLetsGoAtOnceAndThePurgeDeletesTheCopyAfter) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_NO_FATAL_FAILURE(seed(a, key_in(T, "k"), key_in(T, "j"), 4000));
  auto t_before = described(scan(a, {T}));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 7));

  ASSERT_TRUE(a.st->hand_over_shards({S}));
  // Not A's any more, at once: no shard record, remote in the placement.
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  auto owned = a.st->shard_records();
  ASSERT_TRUE(owned);
  EXPECT_EQ(owned->size(), shard_count - 1);
  for (auto& r : *owned)
    EXPECT_NE(r.shard, S);
  EXPECT_FALSE(scan(a, {S}).empty()); // the copy waits for the purge

  auto purged = a.st->purge_handed_over();
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, 1u);
  EXPECT_TRUE(scan(a, {S}).empty());
  EXPECT_EQ(state_of(a, a.parse, k), "<none>");
  EXPECT_FALSE(*a.st->read_status(j));
  EXPECT_TRUE(a.st->read_timers(a.parse, k)->empty());
  for (auto& key : queued_keys(a))
    EXPECT_NE(shard_of(key), S) << key;
  EXPECT_EQ(described(scan(a, {T})), t_before); // T untouched
  auto again = a.st->purge_handed_over();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

TEST_F(ClusterStore, AShardHandedBackBeforeItsPurgeKeepsOnlyWhatCameBack) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_NO_FATAL_FAILURE(open(b));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(scan(a, {S})));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));
  ASSERT_TRUE(a.st->hand_over_shards({S})); // not purged yet

  // B processes k's urgent event, then hands S back to A.
  auto c = complete(b.parse, k, pos_of(b, b.parse, k + "#2"), 1, "k-v2");
  write_batch done;
  done.completions.push_back(std::move(c));
  ASSERT_EQ(commit(b, std::move(done)).consumed.size(), 1u);
  ASSERT_TRUE(b.st->mark_leaving({S}, "a", 2));
  auto back = scan(b, {S});
  ASSERT_TRUE(a.st->begin_import({S}));
  ASSERT_TRUE(a.st->import_handoff(back));
  ASSERT_TRUE(a.st->acquire_shards({S}, 3));

  // A holds what came back, and nothing twice: its leftovers went before
  // the import, and the purge mark with them.
  auto purged = a.st->purge_handed_over();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 0u);
  EXPECT_EQ(scan(a, {S}).size(), back.size());
  EXPECT_TRUE(queue(a, a.parse, priority::urgent).empty());
  EXPECT_EQ(ids_of(queue(a, a.parse, priority::normal)),
            ids_of(queue(b, b.parse, priority::normal)));
  EXPECT_EQ(state_of(a, a.parse, k), state_of(b, b.parse, k));
  EXPECT_EQ(state_of(a, a.parse, k).substr(0, 2), "2:");
  EXPECT_EQ(a.place->state(S), shard_state::owned);
}

TEST_F(ClusterStore, ARestartPurgesWhatAHandOverLeft) {
  ASSERT_NO_FATAL_FAILURE(open(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j");
  ASSERT_NO_FATAL_FAILURE(seed(a, k, j, 5000));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  ASSERT_TRUE(a.st->hand_over_shards({S}));
  ASSERT_FALSE(scan(a, {S}).empty());

  ASSERT_NO_FATAL_FAILURE(open(a)); // stopped before the purge
  EXPECT_TRUE(scan(a, {S}).empty());
  EXPECT_EQ(state_of(a, a.parse, k), "<none>");
  EXPECT_EQ(a.place->state(S), shard_state::remote);
  auto purged = a.st->purge_handed_over();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 0u);
}
