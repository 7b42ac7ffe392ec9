// A stage's changelog moves with its shard (issue 16): a cluster member
// numbers its changes of a shard by the shard's epoch and its seq, a
// hand-off carries the shard's entries (keeping their numbers) and a bound,
// and the new owner serves a cursor of the old owner's from where it
// stood; a cursor it cannot serve is told why.
#include <gtest/gtest.h>

#include "changelog_test_support.hpp"

using namespace sluice;
using namespace sluice::cluster_store_test;

namespace {

using ChangelogHandoff = with_changelog<ClusterStore>;

} // namespace

TEST_F(ChangelogHandoff, TheNewOwnerServesTheOldOwnersCursorWithNoGap) {
  ASSERT_NO_FATAL_FAILURE(open_with_log(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k"), j = key_in(S, "j"), t = key_in(T, "t");
  for (auto v : {"1", "2", "3"}) {
    ASSERT_NO_FATAL_FAILURE(change(a, k, std::string("k") + v));
    ASSERT_NO_FATAL_FAILURE(change(a, t, std::string("t") + v));
  }
  ASSERT_NO_FATAL_FAILURE(change(a, j, "j1"));

  // A numbers S's changes at S's epoch (1) and its seq.
  auto all = read(a, table, {});
  auto on_a = offsets_of(all, S);
  ASSERT_EQ(on_a.size(), 4u);
  for (auto o : on_a)
    EXPECT_EQ(epoch_of(o), 1u);
  EXPECT_EQ(all.view.held.size(), shard_count);
  // A subscriber passed S's first change on A.
  auto cursor = cursor_at(S, on_a[0]);
  for (std::uint32_t s = 0; s < shard_count; ++s)
    if (s != S)
      cursor[s] = shard_offset_of(1, all.view.head);

  // S goes to B, which has a log of its own (other seqs).
  ASSERT_NO_FATAL_FAILURE(open_with_log(b));
  ASSERT_TRUE(a.st->mark_leaving({T}, "b", 1));
  auto t_recs = scan(a, {T});
  ASSERT_TRUE(b.st->begin_import({T}));
  ASSERT_TRUE(b.st->import_handoff(t_recs));
  ASSERT_TRUE(b.st->acquire_shards({T}, 2));
  for (int i = 0; i < 5; ++i)
    ASSERT_NO_FATAL_FAILURE(change(b, t, "b" + std::to_string(i)));
  ASSERT_TRUE(a.st->mark_leaving({S}, "b", 1));
  auto recs = scan(a, {S});
  int entries = 0, bounds = 0;
  for (auto& r : recs) {
    entries += r.what == kind::changelog;
    bounds += r.what == kind::changelog_bound;
  }
  EXPECT_EQ(entries, 4);
  EXPECT_EQ(bounds, 1);
  ASSERT_TRUE(b.st->begin_import({S}));
  ASSERT_TRUE(b.st->import_handoff(recs));
  ASSERT_TRUE(b.st->acquire_shards({S}, 2));
  ASSERT_TRUE(a.st->hand_over_shards({S}));
  auto purged = a.st->purge_handed_over();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_TRUE(offsets_of(read(a, table, {}), S).empty())
      << "A's copy of S's changelog went with the purge";

  // B's own change of S comes after every change A made.
  ASSERT_NO_FATAL_FAILURE(change(b, k, "k4"));
  member_read resume;
  resume.resume = true;
  resume.cursor = cursor;
  auto on_b = read(b, table, resume);
  EXPECT_TRUE(on_b.reset.empty()) << on_b.reset;
  auto got = offsets_of(on_b, S);
  ASSERT_EQ(got.size(), 4u) << "A's last three changes, then B's";
  EXPECT_EQ(got[0], on_a[1]);
  EXPECT_EQ(got[1], on_a[2]);
  EXPECT_EQ(got[2], on_a[3]);
  EXPECT_EQ(epoch_of(got[3]), 2u);
  EXPECT_GT(got[3], got[2]);
  ASSERT_EQ(on_b.view.held.size(), 2u) << "S and T";
  EXPECT_EQ(on_b.view.held[0].shard, S);
  EXPECT_EQ(on_b.view.held[0].epoch, 2u);
  EXPECT_GT(on_b.view.held[0].import_from, 0u);

  // At B's epoch, B reads on from its own seq (T, B's own, at its head).
  auto on_b_at = [&](std::uint64_t offset) {
    auto c = cursor_at(S, offset);
    c[T] = shard_offset_of(2, on_b.view.head);
    return c;
  };
  resume.cursor = on_b_at(got[2]);
  auto tail = read(b, table, resume);
  EXPECT_TRUE(tail.reset.empty()) << tail.reset;
  EXPECT_EQ(offsets_of(tail, S).back(), got[3]);
  resume.cursor = on_b_at(got[3]);
  tail = read(b, table, resume);
  EXPECT_TRUE(offsets_of(tail, S).empty());

  // A cursor of a later epoch than B's, or one B cannot serve, is told why.
  resume.cursor = on_b_at(shard_offset_of(3, 1));
  EXPECT_NE(read(b, table, resume).reset.find("ahead"), std::string::npos);
  // The bound: A's log of S was whole (nothing pruned), so a cursor from
  // before every change of S is served too.
  resume.cursor = on_b_at(shard_offset_of(1, 0));
  auto from_start = read(b, table, resume);
  EXPECT_TRUE(from_start.reset.empty()) << from_start.reset;
  EXPECT_EQ(offsets_of(from_start, S).size(), 5u);
}

TEST_F(ChangelogHandoff, AClaimedShardCannotServeAnEarlierEpoch) {
  ASSERT_NO_FATAL_FAILURE(open_with_log(a));
  ASSERT_TRUE(a.st->claim_all_shards());
  auto k = key_in(S, "k");
  ASSERT_NO_FATAL_FAILURE(change(a, k, "1"));
  member_read resume;
  resume.resume = true;
  resume.cursor = cursor_at(S, shard_offset_of(0, 1));
  auto r = read(a, table, resume);
  EXPECT_NE(r.reset.find("without the changes before it"), std::string::npos)
      << r.reset;
}
