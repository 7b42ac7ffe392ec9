// Which node owns which shard: keys hash to a fixed number of shards, and
// shards go to nodes by rendezvous hashing, so every node that knows the same
// set of owners computes the same map. Plain values, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/placement.hpp"

namespace sluice::cluster {

// Keys hash to shards in the runtime (sluice/placement.hpp): the store
// routes by it too.
using sluice::shard_count;
using sluice::shard_of;

/// The owner of every shard, computed from a set of node names.
///
/// A value: cheap to copy (one index per shard plus the names), immutable
/// once computed, safe to read from several threads.
class shard_map {
public:
  /// An empty map: every shard has no owner.
  shard_map() = default;

  /// Computes the owner of every shard by rendezvous (highest random weight)
  /// hashing over `owners` (node names; order and duplicates do not matter).
  /// Every node that computes it from the same set gets the same map. Empty
  /// owners: every shard has no owner (`owner()` returns an empty string).
  static shard_map compute(std::vector<std::string> owners);

  /// A map with the owner of each shard given (replicated shards: as the
  /// controller assigned them); `per_shard` has `shard_count` names, an
  /// empty name for a shard without owner (then "" is among `nodes()`).
  /// Precondition: `per_shard.size() == shard_count`.
  static shard_map from_owners(const std::vector<std::string>& per_shard);

  /// The node that owns `shard`, or an empty string if the map is empty.
  /// Precondition: `shard < shard_count`.
  const std::string& owner(std::uint32_t shard) const;

  /// The first `count` nodes of `shard`'s rendezvous ranking, best first:
  /// the first is `owner(shard)`, the next the owner if it were gone, and
  /// so on (replica sets are a prefix of it). Fewer when the map has fewer
  /// nodes; empty for an empty map. Precondition: `shard < shard_count`.
  std::vector<std::string> ranking(std::uint32_t shard,
                                   std::size_t count) const;

  /// The shards `node` owns, ascending; empty for a node not in the map.
  std::vector<std::uint32_t> shards_of(std::string_view node) const;

  /// The owners the map was computed from: sorted, unique.
  const std::vector<std::string>& nodes() const noexcept { return nodes_; }

  /// Shards whose owner differs between two maps, ascending.
  friend std::vector<std::uint32_t> moved(const shard_map& from,
                                          const shard_map& to);

  bool operator==(const shard_map&) const = default;

private:
  /// Sorted, unique node names.
  std::vector<std::string> nodes_;
  /// Per shard, the index of its owner in `nodes_`; empty if `nodes_` is.
  std::vector<std::uint32_t> owners_;
};

// Declared again at namespace scope so that `cluster::moved` can be named.
std::vector<std::uint32_t> moved(const shard_map& from, const shard_map& to);

} // namespace sluice::cluster
