#include "sluice/slice_graph.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace sluice::slices {
namespace {

using kind = slice_change::kind;
using strings = std::vector<std::string>;

/// The changes by id, for lookups.
std::map<slice_id, slice_change> by_id(std::vector<slice_change> changes) {
  std::map<slice_id, slice_change> out;
  for (auto& c : changes)
    out[c.id] = std::move(c);
  return out;
}

TEST(SliceGraph, ANewEdgeMergesTwoSlicesAndTheLargerKeepsItsId) {
  slice_graph g;
  g.upsert("a", {"b"});
  g.upsert("b", {});
  g.upsert("c", {"d"});
  g.upsert("d", {});
  g.upsert("e", {"c"});
  auto first = by_id(g.take_changes());
  ASSERT_EQ(first.size(), 2u);
  auto ab = *g.slice_of("a"), cde = *g.slice_of("c");
  EXPECT_EQ(first.at(ab).what, kind::upserted);
  EXPECT_EQ(first.at(ab).members, (strings{"a", "b"}));
  EXPECT_EQ(first.at(cde).members, (strings{"c", "d", "e"}));

  g.upsert("b", {"d"}, false); // only its edges changed
  auto merged = by_id(g.take_changes());
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged.at(cde).what, kind::merged);
  EXPECT_EQ(merged.at(cde).from, std::vector<slice_id>{ab});
  EXPECT_EQ(merged.at(cde).members, (strings{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(merged.at(ab).what, kind::removed);
  EXPECT_TRUE(merged.at(ab).members.empty());
  EXPECT_EQ(g.slice_of("a"), cde);
}

TEST(SliceGraph, ARemovedEdgeSplitsOnlyItsSliceAndTheLargestPartKeepsTheId) {
  slice_graph g;
  g.upsert("a", {"b"});
  g.upsert("b", {"c"});
  g.upsert("c", {"d"});
  g.upsert("d", {});
  g.upsert("x", {"y"});
  g.upsert("y", {});
  g.take_changes();
  auto id = *g.slice_of("a"), other = *g.slice_of("x");
  g.upsert("a", {}, false); // a alone now; b-c-d stays together
  auto changes = by_id(g.take_changes());
  ASSERT_EQ(changes.size(), 2u) << "only the split slice's parts change";
  EXPECT_EQ(changes.count(other), 0u);
  EXPECT_EQ(changes.at(id).what, kind::upserted);
  EXPECT_EQ(changes.at(id).members, (strings{"b", "c", "d"}));
  auto part = *g.slice_of("a");
  EXPECT_NE(part, id);
  EXPECT_EQ(changes.at(part).what, kind::split);
  EXPECT_EQ(changes.at(part).from, std::vector<slice_id>{id});
  EXPECT_EQ(changes.at(part).members, strings{"a"});
  EXPECT_EQ(g.slice_of("x"), other);
}

TEST(SliceGraph, AChangedRecordReportsItsSliceAloneWithTheSameId) {
  slice_graph g;
  g.upsert("a", {"b"});
  g.upsert("b", {});
  g.upsert("x", {});
  g.take_changes();
  auto id = *g.slice_of("a");
  g.upsert("b", {}, true); // new content, same edges
  auto changes = g.take_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].id, id);
  EXPECT_EQ(changes[0].what, kind::upserted);
  g.upsert("b", {}, false); // the same again: nothing
  EXPECT_TRUE(g.take_changes().empty());
}

TEST(SliceGraph, HubsDependedOnByManyAreReferenceDataAndJoinNoSlice) {
  slice_graph g({.min_in_degree = 3, .listed = {"libc"}});
  for (auto* p : {"p1", "p2", "p3"})
    g.upsert(p, {"hub", "libc"});
  g.upsert("hub", {});
  g.upsert("libc", {});
  g.upsert("p4", {"p3"});
  g.take_changes();
  EXPECT_TRUE(g.is_reference("hub"));
  EXPECT_TRUE(g.is_reference("libc"));
  EXPECT_FALSE(g.slice_of("hub"));
  EXPECT_EQ(g.partition(),
            (std::vector<strings>{{"p1"}, {"p2"}, {"p3", "p4"}}));
  EXPECT_EQ(g.references_of(*g.slice_of("p1")), (strings{"hub", "libc"}));
  // One dependent fewer: the hub is a member again and joins them all.
  g.remove("p3");
  auto changes = g.take_changes();
  EXPECT_FALSE(g.is_reference("hub"));
  EXPECT_EQ(g.partition(), (std::vector<strings>{{"hub", "p1", "p2"}, {"p4"}}));
  EXPECT_EQ(g.partition(), g.recompute());
  EXPECT_FALSE(changes.empty());
}

TEST(SliceGraph, SelfLoopsCyclesAndUnknownTargetsAreHandledAndCounted) {
  slice_graph g;
  g.upsert("a", {"a", "b", "b", "ghost"});
  g.upsert("b", {"c"});
  g.upsert("c", {"a"}); // a cycle
  g.take_changes();
  auto s = g.stats();
  EXPECT_EQ(s.records, 3u);
  EXPECT_EQ(s.self_loops, 1u);
  EXPECT_EQ(s.dangling, 1u);
  EXPECT_EQ(s.edges, 3u);
  EXPECT_EQ(s.slices, 1u);
  EXPECT_EQ(g.partition(), g.recompute());
  // The unknown target arrives: it joins a's slice.
  g.upsert("ghost", {});
  auto changes = g.take_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].members, (strings{"a", "b", "c", "ghost"}));
  EXPECT_EQ(g.stats().dangling, 0u);
}

TEST(SliceGraph, RemovingTheLastMemberRemovesTheSlice) {
  slice_graph g;
  g.upsert("a", {});
  g.take_changes();
  auto id = *g.slice_of("a");
  g.remove("a");
  g.remove("never-there");
  auto changes = g.take_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].id, id);
  EXPECT_EQ(changes[0].what, kind::removed);
  EXPECT_TRUE(g.slices().empty());
}

/// Applies `changes` to what a downstream stage keyed by slice id knows.
void apply_changes(std::map<slice_id, strings>& view,
                   const std::vector<slice_change>& changes) {
  for (auto& c : changes) {
    if (c.what == kind::removed)
      view.erase(c.id);
    else
      view[c.id] = c.members;
  }
}

/// Random records over a small name space (so edges meet), random edges,
/// removals, hubs by in-degree and a listed one, in batches; after each
/// batch the incremental slices equal a from-scratch computation, the
/// changes bring a downstream view up to date exactly, slices no change
/// mentions keep id and members, and a copy parsed from the bytes behaves
/// the same.
TEST(SliceGraph, IncrementalSlicesEqualAFullRecomputeOnRandomGraphs) {
  std::map<kind, int> seen; // every kind of change met, over all seeds
  std::size_t most_reference = 0;
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng{seed};
    auto pick = [&](int n) {
      return "n"
             + std::to_string(std::uniform_int_distribution<>(0, n - 1)(rng));
    };
    int names = 10 + static_cast<int>(seed % 5) * 15;
    reference_rule rule{.min_in_degree = seed % 3 == 0 ? 0u : 3u + seed % 4,
                        .listed = {"n0"}};
    slice_graph g(rule);
    std::map<slice_id, strings> view;
    for (int batch = 0; batch < 30; ++batch) {
      auto before = g.slices();
      int ops = 1 + static_cast<int>(rng() % 12);
      for (int i = 0; i < ops; ++i) {
        auto roll = rng() % 10;
        if (roll < 2) {
          g.remove(pick(names));
        } else {
          strings edges;
          auto n = rng() % 4;
          for (std::uint32_t e = 0; e < n; ++e)
            edges.push_back(pick(names));
          g.upsert(pick(names), edges, roll < 5);
        }
      }
      auto changes = g.take_changes();
      ASSERT_EQ(g.partition(), g.recompute())
          << "seed " << seed << " batch " << batch;
      apply_changes(view, changes);
      ASSERT_EQ(view, g.slices()) << "seed " << seed << " batch " << batch;
      auto mentioned = by_id(changes);
      for (auto& [id, members] : before)
        if (!mentioned.count(id)) {
          auto now = g.slices();
          ASSERT_TRUE(now.count(id)) << "seed " << seed << ": slice " << id
                                     << " vanished without a change";
          EXPECT_EQ(now.at(id), members);
        }
      std::set<slice_id> once;
      for (auto& c : changes) {
        EXPECT_TRUE(once.insert(c.id).second) << "two changes of " << c.id;
        ++seen[c.what];
      }
      most_reference = std::max(most_reference, g.stats().reference);
    }
    auto copy = slice_graph::parse(g.serialize());
    ASSERT_TRUE(copy) << copy.error().describe();
    EXPECT_EQ(copy->slices(), g.slices());
    for (int i = 0; i < 20; ++i) {
      auto name = pick(names);
      strings edges{pick(names), pick(names)};
      g.upsert(name, edges);
      copy->upsert(name, edges);
      if (i % 3 == 0) {
        auto gone = pick(names);
        g.remove(gone);
        copy->remove(gone);
      }
    }
    auto a = g.take_changes(), b = copy->take_changes();
    ASSERT_EQ(a.size(), b.size()) << "seed " << seed;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].id, b[i].id);
      EXPECT_EQ(a[i].what, b[i].what);
      EXPECT_EQ(a[i].members, b[i].members);
    }
  }
  for (auto k : {kind::upserted, kind::merged, kind::split, kind::removed})
    EXPECT_GT(seen[k], 10) << to_string(k) << " changes met";
  EXPECT_GT(most_reference, 2u) << "hubs by in-degree met";
}

TEST(SliceGraph, BytesThatDoNotParseAreRefusedNamingWhy) {
  slice_graph g;
  g.upsert("a", {"b"});
  g.upsert("b", {});
  g.take_changes();
  auto bytes = g.serialize();
  auto wrong = slice_graph::parse("not a graph");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, errc::corrupt);
  EXPECT_NE(wrong.error().message.find("does not start with"),
            std::string::npos);
  auto short_read = slice_graph::parse(bytes.substr(0, bytes.size() - 3));
  ASSERT_FALSE(short_read);
  EXPECT_NE(short_read.error().message.find("ends early"), std::string::npos);
  auto extra = slice_graph::parse(bytes + "xyz");
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("3 bytes after its end"),
            std::string::npos);
  ASSERT_TRUE(slice_graph::parse(bytes));
}

} // namespace
} // namespace sluice::slices
