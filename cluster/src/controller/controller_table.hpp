// The controller's table in etcd: its key layout under /sluice/<cluster>/,
// the values stored there (a shard's assignment, a member's record) as JSON,
// and the table read back from a range. Plain values, no I/O; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/etcd_types.hpp"
#include "sluice/result.hpp"

namespace sluice::cluster {

/// The keys of one cluster: `/sluice/<cluster>/members/<name>`,
/// `/sluice/<cluster>/controller`, `/sluice/<cluster>/shards/<n>` with n
/// zero-padded to four digits (so the keys sort by shard).
class controller_keys {
public:
  /// errc::invalid_argument if `cluster` is not a valid name.
  static result<controller_keys> make(std::string cluster);

  /// A cluster or member name: 1 to 200 characters, no '/', no control
  /// character, no space.
  static result<void> check_name(std::string_view what, std::string_view name);

  std::string members_prefix() const { return root_ + "members/"; }
  /// Precondition: `check_name(name)` passes.
  std::string member(std::string_view name) const {
    return members_prefix() + std::string(name);
  }
  std::string controller() const { return root_ + "controller"; }
  std::string shards_prefix() const { return root_ + "shards/"; }
  /// Precondition: `shard < shard_count`.
  std::string shard(std::uint32_t shard) const;

  /// The shard a key under `shards_prefix()` names.
  result<std::uint32_t> shard_of(std::string_view key) const;
  /// The member a key under `members_prefix()` names.
  result<std::string> member_of(std::string_view key) const;

  /// `/sluice/<cluster>/`.
  const std::string& root() const noexcept { return root_; }

private:
  explicit controller_keys(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

/// Who holds a shard, as the controller decided: the value of `shards/<n>`.
struct shard_assignment {
  /// Raised whenever the owner changes; 1 for the first assignment.
  std::uint64_t epoch = 0;
  /// The member that commits the shard; empty while it has none (no
  /// in-sync replica is alive).
  std::string owner;
  /// The members that keep a copy, in rendezvous order.
  std::vector<std::string> replicas;
  /// The in-sync replicas: each holds every acknowledged record. A subset
  /// of `replicas` that contains the owner, if there is one.
  std::vector<std::string> isr;

  bool operator==(const shard_assignment&) const = default;
};

/// Whether `name` is in `list` (a replica or isr list: a few members).
bool listed(const std::vector<std::string>& list, const std::string& name);

/// The rules every stored assignment keeps: epoch > 0; names valid and not
/// repeated; isr within replicas; an owner is in the isr; the isr is not
/// empty when there is an owner.
result<void> check(const shard_assignment& a);

/// The isr size below which an owner acknowledges nothing
/// (replication/shipping.cpp) and below which no isr is written or shrunk
/// (replication/isr.cpp, rebalance_plan.cpp): `min_insync`, but at most
/// the shard's `replicas` and at least 1.
std::size_t isr_floor(std::size_t min_insync, std::size_t replicas);

/// `{"epoch":3,"owner":"b","replicas":["a","b","c"],"isr":["b","c"]}`.
std::string encode(const shard_assignment& a);
/// Decodes and checks; unknown fields are ignored (a newer writer's).
result<shard_assignment> decode_assignment(std::string_view json);

/// A member's record, the value of `members/<name>` (on its lease).
struct member_record {
  /// HOST:PORT of its cluster listener.
  std::string address;
  /// Raised by the member at every start.
  std::uint64_t incarnation = 0;
  /// False for a proxy member: alive, but never made a replica. JSON
  /// `"hosts_shards":false`; a record without the field hosts shards.
  bool hosts_shards = true;

  bool operator==(const member_record&) const = default;
};
std::string encode(const member_record& m);
result<member_record> decode_member(std::string_view json);

/// One shard's assignment and the revision to compare before changing it.
struct shard_entry {
  shard_assignment value;
  std::int64_t mod_revision = 0;

  bool operator==(const shard_entry&) const = default;
};
using shard_table = std::map<std::uint32_t, shard_entry>;

/// The assignments of a read of `keys.shards_prefix()`; an error names the
/// first key that is not a shard or whose value does not decode.
result<shard_table> read_shard_table(const controller_keys& keys,
                                     const etcd_range& range);
/// The members of a read of `keys.members_prefix()`: those whose lease is
/// alive (a member's key goes with its lease).
result<std::map<std::string, member_record>>
read_members(const controller_keys& keys, const etcd_range& range);

} // namespace sluice::cluster
