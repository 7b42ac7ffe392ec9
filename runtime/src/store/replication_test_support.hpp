// Shared fixture of the replication tests: member a owns every shard but T
// with replication on, member b follows shard S; a workload that changes
// every kind of S's records through every write site, and helpers to ship
// a's log to b and compare their copies. Single-threaded.
#pragma once

#include <functional>

#include "cluster_store_test_support.hpp"
#include "sluice/dead_letter.hpp"

namespace sluice::cluster_store_test {

struct Replication : ClusterStore {
  std::string k, j, x; ///< k, j: keys of S; x: a key of T (remote for a)

  void SetUp() override {
    ClusterStore::SetUp();
    k = key_in(S, "k");
    j = key_in(S, "j");
    x = key_in(T, "x");
    open(a, true);
    open(b, true);
    ASSERT_TRUE(a.st->claim_all_shards());
    ASSERT_TRUE(a.st->mark_leaving({T}, "elsewhere", 1));
    ASSERT_TRUE(a.st->release_shards({T}));
  }

  /// Installs a's snapshot of `shard` as b's copy.
  void snapshot(std::uint32_t shard) {
    std::vector<std::string> chunks;
    auto at = a.st->snapshot_shard(shard, 256, [&](std::string&& c) {
      chunks.push_back(std::move(c));
      return true;
    });
    ASSERT_TRUE(at) << at.error().describe();
    auto r = b.st->install_snapshot(shard, *at, chunks);
    ASSERT_TRUE(r) << r.error().describe();
  }

  /// The records of a's log of `shard` that b has not applied yet.
  std::vector<replog_entry> unshipped(std::uint32_t shard) {
    auto at = b.st->replica_position(shard);
    EXPECT_TRUE(at && *at);
    auto recs = a.st->read_replog(shard, at && *at ? (*at)->seq : 0, 100000);
    EXPECT_TRUE(recs) << recs.error().describe();
    return recs ? *recs : std::vector<replog_entry>{};
  }

  /// Ships a's unshipped records of `shard` to b; none may be refused.
  replica_report ship(std::uint32_t shard) {
    auto rep = b.st->apply_replicated(unshipped(shard));
    EXPECT_TRUE(rep) << rep.error().describe();
    if (!rep)
      return {};
    for (auto& o : rep->shards)
      EXPECT_FALSE(o.refused) << o.refused->describe();
    return *rep;
  }

  /// a's records of `shard` (from its snapshot), one line each.
  std::string owner_lines(std::uint32_t shard) {
    std::string out;
    auto at = a.st->snapshot_shard(shard, 1 << 20, [&](std::string&& c) {
      v1::ReplRecord rec;
      rec.ParseFromString(c);
      for (auto& ch : rec.changes())
        out += std::to_string(ch.kind()) + "|" + ch.stage() + "|" + ch.key()
               + "|" + ch.name() + "|" + std::to_string(ch.priority()) + ":"
               + std::to_string(ch.seq()) + "|"
               + std::to_string(ch.value().size()) + " bytes\n";
      return true;
    });
    return at ? out : at.error().describe();
  }

  /// b's copy of `shard`, one line each.
  std::string replica_lines(std::uint32_t shard) {
    std::string out;
    auto r = b.st->scan_replica(shard, [&](handoff_record& rec) {
      out += describe(rec).substr(0, 60) + "\n";
      return true;
    });
    return r ? out : r.error().describe();
  }

  /// b's copy of `shard` equals a's records, and b is at a's position.
  void expect_in_sync(std::uint32_t shard, const std::string& step) {
    auto da = a.st->shard_digest(shard);
    auto db = b.st->replica_digest(shard);
    ASSERT_TRUE(da && db);
    EXPECT_EQ(*da, *db) << "after " << step << "\nowner:\n"
                        << owner_lines(shard) << "replica:\n"
                        << replica_lines(shard);
    auto pa = a.st->replog_position(shard);
    auto pb = b.st->replica_position(shard);
    ASSERT_TRUE(pa && *pa && pb && *pb);
    EXPECT_EQ((*pa)->epoch, (*pb)->epoch) << step;
    EXPECT_EQ((*pa)->seq, (*pb)->seq) << step;
  }

  /// `m`'s outbox entries as the forwarder sends them, in outbox order.
  static std::vector<forwarded_event> outbox_of(member& m) {
    auto out = m.st->read_outbox({priority::urgent, 0}, 100);
    EXPECT_TRUE(out) << out.error().describe();
    std::vector<forwarded_event> evs;
    for (auto& e : out ? *out : std::vector<outbox_entry>{})
      evs.push_back({e.shard,
                     e.pos.seq,
                     e.stage_id,
                     e.pos.priority,
                     {},
                     e.event_bytes,
                     e.origin,
                     e.written_at});
    return evs;
  }

  /// A KeyStatus of `phase` in `stage`.
  static std::string status(const std::string& stage, v1::Phase phase) {
    v1::KeyStatus st;
    st.set_stage(stage);
    st.set_phase(phase);
    return st.SerializeAsString();
  }

  /// Changes every kind of S's records on a, through every write site,
  /// calling `after(step)` after each write transaction.
  void workload(const std::function<void(const std::string&)>& after);
};

} // namespace sluice::cluster_store_test
