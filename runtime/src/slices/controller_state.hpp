// Private to the slice controller: what it keeps in a tenant key's state
// (the slice graph, each record's data for its slice's job, and what the
// console shows: the last batch's changes and the last reconcile), as
// bytes. A generation number, first after the magic, lets the behaviour
// keep the parsed state between events and know when it is stale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sluice/result.hpp"
#include "sluice/slice_graph.hpp"

namespace sluice::slices {

/// One tenant's slice controller state.
struct controller_state {
  /// Counts of one batch's effects.
  struct batch_summary {
    std::uint64_t at_ms = 0; ///< when it was applied (ms since the epoch)
    std::uint64_t records = 0;
    std::uint64_t upserted = 0, merged = 0, split = 0, removed = 0;
    std::uint64_t references = 0; ///< reference events emitted

    /// The counter of slice changes of kind `k`.
    std::uint64_t& of(slice_change::kind k) {
      switch (k) {
      case slice_change::kind::upserted:
        return upserted;
      case slice_change::kind::merged:
        return merged;
      case slice_change::kind::split:
        return split;
      case slice_change::kind::removed:
        break;
      }
      return removed;
    }
    /// Adds `b`'s counts; the time becomes `b`'s.
    batch_summary& operator+=(const batch_summary& b) {
      at_ms = b.at_ms;
      records += b.records;
      upserted += b.upserted;
      merged += b.merged;
      split += b.split;
      removed += b.removed;
      references += b.references;
      return *this;
    }
  };
  /// The last from-scratch check.
  struct reconcile_summary {
    std::uint64_t at_ms = 0;
    std::uint64_t runs = 0;
    std::uint64_t differences = 0; ///< of the last run
  };

  /// Bumped by every commit; compared with the bytes' before a cached copy
  /// is used.
  std::uint64_t generation = 0;
  slice_graph graph;
  /// A record's data (JSON text) for its slice's job.
  std::unordered_map<std::string, std::string> data;
  std::uint64_t batches = 0;
  batch_summary last;  ///< the last event's
  batch_summary total; ///< every event's since the tenant began
  reconcile_summary reconciled;
  /// When the next reconcile pass is due (ms since the epoch; 0: not
  /// yet planned). Every event sets the in-memory timer for it again, so
  /// a restart or a failed event cannot lose it, and a busy tenant cannot
  /// push it back.
  std::uint64_t reconcile_due_ms = 0;

  /// The state as bytes.
  std::string serialize() const;
  /// errc::corrupt naming what does not parse.
  static result<controller_state> parse(std::string_view bytes);
  /// The generation of `bytes` without parsing the rest; nullopt when they
  /// are not a controller state.
  static std::optional<std::uint64_t> generation_of(std::string_view bytes);
};

} // namespace sluice::slices
