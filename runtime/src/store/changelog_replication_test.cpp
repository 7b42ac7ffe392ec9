// A stage's changelog is replicated with its shard (issue 16): the owner's
// entries reach the follower's copy as they are written and as they are
// pruned (with the bound pruning raises), a snapshot brings them and the
// bound, and a promoted follower serves a cursor of the old owner's with
// no gap, or says why it cannot.
#include <gtest/gtest.h>

#include "changelog_test_support.hpp"
#include "replication_test_support.hpp"

namespace sluice::cluster_store_test {

namespace {

/// Replication (a owns S, b follows it) with a changelog stage on both,
/// keeping the last `keep` changes.
struct ReplicatedChangelog : with_changelog<Replication> {
  std::uint64_t keep = 100000;
  void SetUp() override {
    Replication::SetUp();
    ASSERT_NO_FATAL_FAILURE(add_log(a, keep));
    ASSERT_NO_FATAL_FAILURE(add_log(b, keep));
  }
  /// A change on `m`, readable at once: as the store actor makes it once
  /// the replicas hold the commit (store::changelog_visible).
  void change(member& m, const std::string& key, const std::string& v) {
    ASSERT_NO_FATAL_FAILURE(with_changelog::change(m, key, v));
    m.st->changelog_visible(m.st->next_seq());
  }
  /// `m` promotes its copy of `shard` to `epoch`; what it imported is
  /// readable, as once the store actor has the promotion's report.
  void promote(member& m, std::uint32_t shard, std::uint64_t epoch) {
    auto r = m.st->promote_replica({shard}, epoch);
    ASSERT_TRUE(r) << r.error().describe();
    m.st->changelog_visible(m.st->next_seq());
  }
  /// Every change `m` keeps, from its log's low end.
  member_changes kept_on(member& m) {
    member_read req;
    req.max = 0;
    req.after = read(m, table, req).view.low;
    req.max = 512;
    return read(m, table, req);
  }
  /// The shard offset of a's last change of `shard`.
  std::uint64_t last_on_a(std::uint32_t shard) {
    auto got = offsets_of(kept_on(a), shard);
    EXPECT_FALSE(got.empty());
    return got.empty() ? 0 : got.back();
  }
  member_changes resume(member& m, std::vector<std::uint64_t> cursor) {
    member_read req;
    req.resume = true;
    req.cursor = std::move(cursor);
    return read(m, table, req);
  }
};

struct ShortReplicatedChangelog : ReplicatedChangelog {
  ShortReplicatedChangelog() { keep = 3; }
};

} // namespace

TEST_F(ReplicatedChangelog, APromotedReplicaServesTheOldOwnersCursorWithNoGap) {
  // A third member, c, follows S beside b.
  member c;
  c.dir = root + "/c";
  ASSERT_NO_FATAL_FAILURE(open(c, true));
  ASSERT_NO_FATAL_FAILURE(add_log(c, keep));
  // Changes before the snapshot reach the copies with it, the others as
  // they are shipped.
  ASSERT_NO_FATAL_FAILURE(change(a, k, "k1"));
  ASSERT_NO_FATAL_FAILURE(change(a, j, "j1"));
  std::vector<std::string> chunks;
  auto snap = a.st->snapshot_shard(S, 256, [&](std::string&& ch) {
    chunks.push_back(std::move(ch));
    return true;
  });
  ASSERT_TRUE(snap) << snap.error().describe();
  ASSERT_TRUE(b.st->install_snapshot(S, *snap, chunks));
  ASSERT_TRUE(c.st->install_snapshot(S, *snap, chunks));
  auto to_both = [&] {
    auto recs = unshipped(S);
    ASSERT_TRUE(c.st->apply_replicated(recs));
    ship(S);
  };
  for (auto v : {"2", "3"}) {
    ASSERT_NO_FATAL_FAILURE(change(a, k, std::string("k") + v));
    to_both();
    ASSERT_NO_FATAL_FAILURE(change(a, j, std::string("j") + v));
    to_both();
  }
  // The copy holds every entry of S: the digest counts them.
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "six changes"));
  auto on_a = offsets_of(read(a, table, {}), S);
  ASSERT_EQ(on_a.size(), 6u);
  auto base = a.st->replog_position(S);
  ASSERT_TRUE(base && *base);

  // a is lost; b takes S over at epoch 2 and changes k once more.
  ASSERT_NO_FATAL_FAILURE(promote(b, S, 2));
  ASSERT_NO_FATAL_FAILURE(change(b, k, "k4"));

  // A subscriber of a's that had passed a's second change of S reads the
  // other four from b, with a's numbers, then b's change.
  auto on_b = resume(b, cursor_at(S, on_a[1]));
  EXPECT_TRUE(on_b.reset.empty()) << on_b.reset;
  auto got = offsets_of(on_b, S);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(std::vector<std::uint64_t>(got.begin(), got.begin() + 4),
            std::vector<std::uint64_t>(on_a.begin() + 2, on_a.end()));
  EXPECT_EQ(epoch_of(got[4]), 2u);
  ASSERT_EQ(on_b.view.held.size(), 1u);
  EXPECT_GT(on_b.view.held[0].import_from, 0u);
  // One at a's last change reads b's only.
  auto tail = offsets_of(resume(b, cursor_at(S, on_a.back())), S);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0], got[4]);
  // One from before a claimed S (epoch 0): a's log began at epoch 1, so
  // b cannot tell what came before, and says so.
  auto early = resume(b, cursor_at(S, shard_offset_of(0, 1)));
  EXPECT_NE(early.reset.find("had left its changelog before it came here"),
            std::string::npos)
      << early.reset;

  // c, whose copy was where b's was, continues from b's log without a
  // snapshot: the promotion's renumbering keeps the changelog entries.
  auto log = b.st->read_replog(S, (*base)->seq, 100);
  ASSERT_TRUE(log);
  ASSERT_FALSE(log->empty());
  (*log)[0].base_epoch = (*base)->epoch;
  auto took = c.st->apply_replicated(*log);
  ASSERT_TRUE(took);
  ASSERT_FALSE(took->shards[0].refused) << took->shards[0].refused->describe();
  auto owner = b.st->shard_digest(S);
  auto copy = c.st->replica_digest(S);
  ASSERT_TRUE(owner && copy);
  EXPECT_EQ(*owner, *copy);
}

TEST_F(ShortReplicatedChangelog, PruningReachesTheCopyWithItsBound) {
  ASSERT_NO_FATAL_FAILURE(snapshot(S));
  std::vector<std::uint64_t> all;
  for (int i = 1; i <= 6; ++i) {
    ASSERT_NO_FATAL_FAILURE(change(a, k, "k" + std::to_string(i)));
    all.push_back(last_on_a(S));
    ship(S);
  }
  // a keeps its last three; the copy holds exactly those.
  auto kept = offsets_of(kept_on(a), S);
  EXPECT_EQ(kept, std::vector<std::uint64_t>(all.begin() + 3, all.end()));
  ASSERT_NO_FATAL_FAILURE(expect_in_sync(S, "pruned"));

  ASSERT_NO_FATAL_FAILURE(promote(b, S, 2));
  // A cursor at the last change pruned is served from the next one.
  auto at_bound = resume(b, cursor_at(S, all[2]));
  EXPECT_TRUE(at_bound.reset.empty()) << at_bound.reset;
  EXPECT_EQ(offsets_of(at_bound, S), kept);
  // One before it would miss that change: it starts again, told why.
  auto before = resume(b, cursor_at(S, all[1]));
  EXPECT_NE(before.reset.find("had left its changelog"), std::string::npos)
      << before.reset;
}

} // namespace sluice::cluster_store_test
