// Slices: a tenant's records split into independent islands, kept current
// incrementally. Records are nodes with directed edges to other records
// (a package and its dependencies); two records are in one slice when an
// undirected path joins them that passes through no reference node. A
// reference node (a hub: depended on by at least `min_in_degree` others,
// or listed) joins no slice: it is shared data, handed to every job that
// needs it. A change recomputes only the slices it touches: a new edge
// merges two slices; a removed edge, a removed record or a node that
// became a reference searches only its old slice, which may split.
//
// Slice ids are stable: a slice that does not change keeps its id; a merge
// keeps the largest part's id and says which it absorbed; a split keeps
// the id on its largest part and says where the others came from. The
// changes since the last `take_changes()` are one per slice, so a stage
// keyed by slice id runs one job per changed slice. Not thread-safe; no
// CAF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::slices {

/// A slice's id: never reused within one graph.
using slice_id = std::uint64_t;

/// Which records are reference data rather than members of a slice.
struct reference_rule {
  /// Records depended on by at least this many others (0: none by count).
  std::uint32_t min_in_degree = 0;
  /// Records that are reference data whatever their in-degree.
  std::set<std::string, std::less<>> listed;
};

/// What became of one slice since the last take_changes().
struct slice_change {
  /// How it changed.
  enum class kind : std::uint8_t {
    /// New, or its members changed (records added, removed or updated).
    upserted,
    /// It absorbed the slices in `from` (which are `removed`).
    merged,
    /// It was split off the slice `from[0]` (which goes on, changed).
    split,
    /// Gone: its last member left, or it was merged into another.
    removed,
  };
  /// How it changed.
  kind what = kind::upserted;
  /// The slice.
  slice_id id = 0;
  /// merged: the ids it absorbed; split: the id it came from.
  std::vector<slice_id> from;
  /// The members now, sorted (empty when removed).
  std::vector<std::string> members;
};

/// "upserted", "merged", "split" or "removed".
std::string_view to_string(slice_change::kind k) noexcept;

/// Counts of the graph, for the console and metrics.
struct graph_stats {
  std::size_t records = 0;    ///< records present
  std::size_t edges = 0;      ///< edges between present records
  std::size_t dangling = 0;   ///< edges to records not present
  std::size_t self_loops = 0; ///< edges of a record to itself (ignored)
  std::size_t reference = 0;  ///< records that are reference data
  std::size_t slices = 0;     ///< slices
  std::size_t largest = 0;    ///< members of the largest slice
};

/// One tenant's records, edges and slices (see the top of this file).
class slice_graph {
public:
  /// An empty graph whose reference data `rule` says.
  explicit slice_graph(reference_rule rule = {});
  ~slice_graph();
  /// Moves the whole graph.
  slice_graph(slice_graph&&) noexcept;
  /// Moves the whole graph.
  slice_graph& operator=(slice_graph&&) noexcept;

  /// Sets record `name`'s edges (replacing its old ones), adding it if new.
  /// Repeated targets count once; an edge to itself is ignored (counted in
  /// stats().self_loops); an edge to a record not present waits for it
  /// (dangling). Also marks the record's slice as changed when the record
  /// was already present and `changed` (its content changed, not only its
  /// edges): its slice's job must run again.
  void upsert(std::string_view name, std::vector<std::string> edges,
              bool changed = true);
  /// Removes record `name` (nothing when absent). Edges of others to it
  /// become dangling.
  void remove(std::string_view name);

  /// The changes since the last call, one per slice, by id. Applies the
  /// pending split searches first.
  std::vector<slice_change> take_changes();

  /// The slice of `name`; nullopt for a reference or absent record.
  std::optional<slice_id> slice_of(std::string_view name) const;
  /// The members of slice `id`, sorted (empty when there is none).
  std::vector<std::string> members(slice_id id) const;
  /// True when `name` is present and reference data.
  bool is_reference(std::string_view name) const;
  /// True when `name` is present (a record, not only an edge's target).
  bool contains(std::string_view name) const;
  /// The edges of `name` as kept: sorted, unique, without itself (empty
  /// when absent).
  std::vector<std::string> edges_of(std::string_view name) const;
  /// The reference rule in force.
  const reference_rule& rule() const;
  /// Replaces the reference rule: records that become (or stop being)
  /// reference data leave (or join) slices as an upsert would move them,
  /// so ids stay stable and take_changes() reports what moved.
  void set_rule(reference_rule rule);
  /// The reference records the members of slice `id` depend on, sorted.
  std::vector<std::string> references_of(slice_id id) const;
  /// Every slice with its members, by id (pending splits applied first:
  /// call after take_changes()).
  std::map<slice_id, std::vector<std::string>> slices() const;
  /// The graph's counts.
  graph_stats stats() const;

  /// The partition the rules give, computed from scratch over the present
  /// records (sorted members, slices sorted): what the incremental slices
  /// must equal (the reconciler's and the tests' reference).
  std::vector<std::vector<std::string>> recompute() const;
  /// The incremental slices as the same sorted partition.
  std::vector<std::vector<std::string>> partition() const;

  /// The whole graph as bytes (records, edges, slice ids and the next id),
  /// for a key's state; `parse` reads them back. Call after take_changes().
  std::string serialize() const;
  /// errc::corrupt naming what does not parse.
  static result<slice_graph> parse(std::string_view bytes);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace sluice::slices
