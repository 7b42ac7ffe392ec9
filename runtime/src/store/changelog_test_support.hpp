// Shared by the tests of changelogs that move between members (a hand-off,
// a promotion): a stage `table` with a changelog, one change of a key
// committed the way a stage commits it, and reads of a member's changes as
// a subscription through any member makes them. Single-threaded.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster_store_test_support.hpp"
#include "sluice/store/changelog.hpp"

namespace sluice::cluster_store_test {

/// `Base` (a ClusterStore fixture) with a changelog stage on its members.
template <class Base>
struct with_changelog : Base {
  std::uint32_t table = 0; ///< a stage with a changelog, on every member

  /// Registers `table` on `m` (open), keeping the last `keep` changes.
  void add_log(member& m, std::uint64_t keep = 100000) {
    auto t = m.st->register_stage("table", "sluice.table",
                                  changelog_retention{keep, {}});
    ASSERT_TRUE(t) << t.error().describe();
    table = *t;
  }

  void open_with_log(member& m) {
    ASSERT_NO_FATAL_FAILURE(this->open(m));
    ASSERT_NO_FATAL_FAILURE(add_log(m));
  }

  /// One event of `key` into the table stage, processed: its state `v`.
  void change(member& m, const std::string& key, const std::string& v) {
    write_batch b;
    b.appends.push_back(Base::append(table, key, key + "#" + v));
    this->commit(m, std::move(b));
    auto base = m.st->read_state(table, key);
    ASSERT_TRUE(base);
    write_batch c;
    c.completions.push_back(
        Base::complete(table, key, Base::pos_of(m, table, key + "#" + v),
                       *base ? (*base)->version : 0, v));
    this->commit(m, std::move(c));
  }

  static member_changes read(member& m, std::uint32_t stage,
                             const member_read& req) {
    changelog_reader log{*m.st};
    auto r = log.changes_held(stage, req);
    EXPECT_TRUE(r) << r.error().describe();
    return r ? std::move(*r) : member_changes{};
  }

  /// A cursor at `offset` for `shard`, 0 for every other shard.
  static std::vector<std::uint64_t> cursor_at(std::uint32_t shard,
                                              std::uint64_t offset) {
    std::vector<std::uint64_t> c(shard_count, 0);
    c[shard] = offset;
    return c;
  }

  /// The shard offsets of the entries of `shard` in `ch`, in order.
  static std::vector<std::uint64_t> offsets_of(const member_changes& ch,
                                               std::uint32_t shard) {
    std::vector<std::uint64_t> out;
    for (auto& e : ch.entries)
      if (shard_of(e.key) == shard)
        out.push_back(e.shard_offset);
    return out;
  }
};

} // namespace sluice::cluster_store_test
