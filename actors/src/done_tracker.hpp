// Which published events are done: an event is done when it and every
// event it caused on this node have been processed. Counted at commit: a
// tracked event starts with one outstanding entry per stage it was queued
// for, and each applied completion of it or of a descendant (whose id
// starts with the root's id and ">") adds the emits it queued here and
// takes itself away. No CAF; every method is safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sluice/event_done.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

class done_tracker {
public:
  using clock = std::chrono::steady_clock;

  /// Tracks event `id`, queued for `routes` stages (0: taken by none, so
  /// done at once); `cb` gets its outcome once. Returns a ticket for
  /// `forget`. Call before the append is sent, so no commit of it is
  /// missed.
  std::uint64_t begin(const std::string& id, std::uint32_t routes,
                      done_callback cb, clock::time_point since);
  /// Stops waiting for ticket `ticket` (its caller gave up, or did not
  /// publish after all); the event's entry goes when no one waits for it.
  void forget(std::uint64_t ticket);

  /// True while any event is tracked: commits report what they settled.
  bool active() const noexcept { return live_.load() > 0; }

  /// A commit's applied completions.
  void settle(const std::vector<settled_event>& settled);
  /// One append of the event `ticket` tracks went to the outbox: another
  /// member processes it.
  void forwarded(std::uint64_t ticket);
  /// The publish `ticket` tracks was dropped by publish-once: its routes
  /// are not queued; its waiter ends `duplicate`.
  void duplicate(std::uint64_t ticket);
  /// The publish `ticket` tracks failed: nothing was committed; its
  /// waiter ends `failed`.
  void failed(std::uint64_t ticket);
  /// The node stops: every tracked event is abandoned.
  void close();

  /// How many events are tracked.
  std::size_t size() const;

private:
  struct waiter {
    std::uint64_t ticket = 0;
    std::uint32_t routes = 0; ///< the appends its publish made
    done_callback cb;
    clock::time_point since;
  };
  struct entry {
    std::int64_t outstanding = 0;
    event_done totals;
    std::vector<waiter> waiters;
  };
  struct fired {
    done_callback cb;
    event_done outcome;
  };
  using map_type = std::unordered_map<std::string, entry>;

  /// The tracked entry `id` belongs to: its own, or a root's whose id and
  /// ">" start it. Lock held.
  map_type::iterator find_root(std::string_view id);
  /// The entry ticket `ticket` waits on (end: none). Lock held.
  map_type::iterator entry_of(std::uint64_t ticket);
  /// Ends entry `i` with outcome `o`: its waiters go into `out`. Lock held.
  void end(map_type::iterator i, done_outcome o, std::vector<fired>& out);
  /// Ends only the waiter of `ticket` with outcome `o`, taking its
  /// routes away. Lock held.
  void end_one(std::uint64_t ticket, done_outcome o, std::vector<fired>& out);
  /// Calls what `end` collected, without the lock.
  static void call(std::vector<fired>& out);

  mutable std::mutex mtx_;
  map_type entries_;
  std::unordered_map<std::uint64_t, std::string> tickets_; ///< -> the id
  std::atomic<std::size_t> live_{0};
  std::uint64_t next_ticket_ = 1;
};

} // namespace sluice
