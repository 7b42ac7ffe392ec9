// The cluster's whole table under /sluice/<cluster>/ as one value: members,
// the controller key and the shard assignments, read from one range and kept
// up to date by watch events. Keys that do not decode are set aside, never
// fatal. Plain values, no I/O; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/controller_table.hpp"
#include "controller/etcd_types.hpp"

namespace sluice::cluster {

struct table_snapshot {
  /// The store's revision the snapshot is at.
  std::int64_t revision = 0;
  /// The members whose lease-bound key exists.
  std::map<std::string, member_record> members;
  /// The shards whose assignment decodes.
  shard_table shards;
  /// Shards whose key exists but does not decode (their mod_revision): left
  /// alone, and never assigned again as if missing.
  std::map<std::uint32_t, std::int64_t> unreadable;
  /// The controller key, if someone holds it.
  std::optional<etcd_kv> controller;

  /// The members that host shards, sorted.
  std::vector<std::string> hosting() const;
  /// Every live member's name.
  std::set<std::string> live() const;
};

/// What one event changed.
enum class snapshot_change { nothing, members, shards, controller };

/// The snapshot of a range of `keys.root()`; each key skipped is described
/// in `problems` (key and why).
table_snapshot read_snapshot(const controller_keys& keys,
                             const etcd_range& range,
                             std::vector<std::string>& problems);

/// Applies one watch event; a key that does not decode is described in
/// `problems`.
snapshot_change apply(table_snapshot& snapshot, const controller_keys& keys,
                      const etcd_event& event,
                      std::vector<std::string>& problems);

} // namespace sluice::cluster
