// Where a key's events are processed: keys hash to a fixed number of
// shards, and each node holds a view of which shards it owns. Without a
// cluster there is no placement and every key is local. Thread-safe: the
// cluster writes shard states, the store and the stage supervisors read
// them, all through atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// The fixed number of shards: the unit of placement, hand-off and
/// recovery. Every node of a cluster must use the same number.
inline constexpr std::uint32_t shard_count = 1024;

/// The shard of `key`: a 64-bit XXH3 hash of its bytes, modulo
/// `shard_count`. Stable across versions and machines.
std::uint32_t shard_of(std::string_view key) noexcept;

/// What this node may do with a shard.
enum class shard_state : std::uint8_t {
  /// Another node owns it: new events for it go to the outbox, and
  /// completions for it are refused (a stale owner is fenced).
  remote = 0,
  /// This node owns it: events are queued and processed here.
  owned = 1,
  /// This node is handing it off: what is in flight still commits, nothing
  /// new is dispatched, and new events for it go to the outbox.
  leaving = 2,
};

/// This node's view of shard ownership, shared by the store (routing and
/// fencing), the stage supervisors (what to dispatch) and the cluster
/// (which changes it). A node without a cluster has none: all is local.
class placement {
public:
  /// Every shard starts `remote`.
  placement() noexcept;

  /// The state of `shard` (< shard_count).
  shard_state state(std::uint32_t shard) const noexcept {
    return static_cast<shard_state>(
        states_[shard].load(std::memory_order_acquire));
  }
  /// Sets the state of `shard` (< shard_count).
  void set(std::uint32_t shard, shard_state s) noexcept {
    states_[shard].store(static_cast<std::uint8_t>(s),
                         std::memory_order_release);
  }

  /// New events for the shard are queued here (else: to the outbox).
  bool queues_here(std::uint32_t shard) const noexcept {
    return state(shard) == shard_state::owned;
  }
  /// Queued events of the shard may be dispatched here.
  bool dispatches_here(std::uint32_t shard) const noexcept {
    return state(shard) == shard_state::owned;
  }
  /// Completions for the shard may commit here (owned or leaving).
  bool commits_here(std::uint32_t shard) const noexcept {
    return state(shard) != shard_state::remote;
  }

  /// The shards in state `s`, ascending.
  std::vector<std::uint32_t> shards_in(shard_state s) const;

  // -- damaged records fetched again from a replica ------------------------
  // An owner that reads a damaged record of a key (its checksum fails) asks
  // here whether the shard can be fetched again from an in-sync replica.
  // The cluster answers by giving the shard to that replica: this member
  // drops its records of the shard (the damaged one included) and takes a
  // snapshot back. Without a handler (no replicated cluster) nothing can be.

  /// Called (on the asking thread, so it must only post) with the shard
  /// and why, the first time a shard's repair is asked for.
  using repair_handler =
      std::function<void(std::uint32_t shard, const std::string& why)>;
  /// Sets (or, empty, clears) the handler. Any thread.
  void on_repair(repair_handler fn);

  /// A damaged record of `key` was read here: true while the cluster is
  /// fetching its shard again (the key's events wait; nothing is
  /// dead-lettered); false when it cannot (no handler, or refused since:
  /// the caller dead-letters as without replicas). Any thread.
  bool ask_repair(std::string_view key, const std::string& why) const;

  /// The cluster could not fetch `shard` again (no other live in-sync
  /// copy): ask_repair answers false until `repair_over`.
  void repair_refused(std::uint32_t shard) noexcept;
  /// The shard was given up (or its refusal no longer holds): the next
  /// damaged record asks again.
  void repair_over(std::uint32_t shard) noexcept;

private:
  enum class repair : std::uint8_t { none = 0, asked = 1, refused = 2 };
  std::array<std::atomic<std::uint8_t>, shard_count> states_;
  mutable std::array<std::atomic<std::uint8_t>, shard_count> repairs_;
  mutable std::mutex repair_mtx_;
  repair_handler repair_fn_;
};

/// True when `p` is null (no cluster) or lets `key` be dispatched here.
inline bool dispatches_here(const placement* p, std::string_view key) {
  return p == nullptr || p->dispatches_here(shard_of(key));
}

} // namespace sluice
