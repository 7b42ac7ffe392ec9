// The member table of one node: SWIM-style statuses with incarnations,
// gossiped in full with every heartbeat, and the failure detector that turns
// silence into suspicion and suspicion into down. Pure logic: the caller
// passes the time in. Not thread-safe: one owner (the membership actor).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::cluster {

/// A member's status, in order of severity: at equal incarnation the more
/// severe status wins a merge.
enum class member_status : std::uint8_t {
  up = 0,      ///< alive, owns shards
  suspect = 1, ///< silent for a while, or its connection dropped
  down = 2,    ///< silent too long; still owns its shards (see shard_owners)
  leaving = 3, ///< handing its shards off before it goes
  left = 4,    ///< gone for good, or removed by an operator
};

/// The status's name: "up", "suspect", "down", "leaving" or "left".
std::string_view to_string(member_status s) noexcept;

/// One row of the member table, as it travels in gossip.
struct member {
  std::string name;    ///< unique node name
  std::string address; ///< HOST:PORT it listens on
  /// Raised by the member itself: at each start, and to refute suspicion.
  std::uint64_t incarnation = 0;
  member_status status = member_status::up; ///< as this table knows it
  /// False for a proxy member (`sluice node --no-shards`): it takes input
  /// and forwards it, but owns no shard. Set by the member itself.
  bool hosts_shards = true;

  bool operator==(const member&) const = default;
};

/// The failure detector's timing.
struct detection_options {
  std::chrono::milliseconds heartbeat{200};     ///< how often a node gossips
  std::chrono::milliseconds suspect_after{800}; ///< silence before suspect
  /// Silence before down (so detection takes under 2 s by default).
  std::chrono::milliseconds down_after{1500};
};

/// The member table of one node, self included.
///
/// Every change to the table raises `epoch()` by one: a local transition
/// (tick, lost_contact, admit, leave, finish_leave, mark_left) or a merge
/// that changed the table. Merging is commutative per member (the higher
/// incarnation, then the more severe status, wins), so nodes that exchange
/// their tables end on the same table and the same epoch.
class membership {
public:
  using clock = std::chrono::steady_clock;

  /// A table that holds only `self`; `now` is the time it starts at.
  membership(member self, detection_options opts, clock::time_point now);

  /// This node's name.
  const std::string& self_name() const noexcept { return self_name_; }

  /// This node's own entry.
  const member& self() const;

  /// All known members sorted by name, self included.
  const std::vector<member>& members() const noexcept { return members_; }

  /// The member called `name`, or nullptr. Valid until the table changes.
  const member* find(std::string_view name) const;

  /// Grows whenever this node's table changes; converges with gossip (see
  /// merge).
  std::uint64_t epoch() const noexcept { return epoch_; }

  /// The failure detector's timing.
  const detection_options& options() const noexcept { return opts_; }

  /// Merges a peer's table (its members and its epoch). Per member: a higher
  /// incarnation wins; at equal incarnation the more severe status wins
  /// (up < suspect < down < leaving < left), and at equal status the greater
  /// address (so tables converge whatever the order of merges). A member
  /// unknown here is added, its silence timer starting at `now`; so does the
  /// timer of a member whose incarnation rises.
  ///
  /// Entries about self: self alone speaks for itself. If a peer says self is
  /// suspect or down with an incarnation >= ours, self refutes: incarnation =
  /// theirs + 1, status up (or still leaving/left). A higher incarnation with
  /// status up (a past life of this node) is overtaken the same way. A peer's
  /// leaving or left at an incarnation >= ours (an operator's removal) is
  /// taken.
  ///
  /// Returns true when the table changed. Epoch: max(own, remote); if the
  /// table changed and differs from the remote table, +1; if it changed into
  /// the remote table, at least own + 1 (so the epoch grows with every
  /// change, and after quiet gossip all nodes hold the same table and epoch).
  bool merge(const std::vector<member>& remote, std::uint64_t remote_epoch,
             clock::time_point now);

  /// A message came from `name` directly (heartbeat or any traffic): resets
  /// its silence timer. Does not lift a suspicion: only the member itself
  /// does that, with a higher incarnation.
  void heard_from(std::string_view name, clock::time_point now);

  /// A direct sign that `name` is gone (its connection dropped): up ->
  /// suspect at once. Its silence timer keeps running from the last message,
  /// so it goes down at the same time as it would have anyway. Returns true
  /// if changed.
  bool lost_contact(std::string_view name, clock::time_point now);

  /// Applies the failure detector: another member silent for suspect_after
  /// goes up -> suspect, for down_after goes suspect/up -> down.
  /// Leaving/left members are not touched. Returns the names that changed
  /// status, sorted.
  std::vector<std::string> tick(clock::time_point now);

  /// Adds or updates a member that joined through this node (a join
  /// handshake): its entry replaces ours if its incarnation is >= ours (a
  /// restarted node comes back with a higher incarnation, and with up
  /// status), and its silence timer restarts at `now`. An entry named like
  /// self is refused. Returns true if changed.
  bool admit(const member& m, clock::time_point now);

  /// Self starts a graceful leave (status leaving).
  void leave();
  /// Self has handed its shards off: status left.
  void finish_leave();

  /// A member announced it left (or an operator removed it): status left.
  /// Returns true if changed.
  bool mark_left(std::string_view name);

  /// The names that own shards: members that are up, suspect or down (a down
  /// node keeps its shards: its data is on its disk and it comes back with
  /// the same name), not leaving or left, and not proxies. Sorted.
  std::vector<std::string> shard_owners() const;

  /// The members to gossip with: every other member not left, sorted by
  /// name. Valid until the table changes.
  std::vector<const member*> peers() const;

private:
  /// The index of `name` in `members_`, or members_.size().
  std::size_t index_of(std::string_view name) const;
  /// Inserts `m` (not yet known) in name order, heard at `now`.
  void insert(member m, clock::time_point now);
  /// Sets self's status (if it differs) and raises the epoch.
  void set_self_status(member_status s);

  std::string self_name_;
  detection_options opts_;
  /// Sorted by name, self included.
  std::vector<member> members_;
  /// When each member (same index as `members_`) was last heard from.
  std::vector<clock::time_point> heard_;
  std::uint64_t epoch_ = 0;
};

} // namespace sluice::cluster
