// `replace_after`: the replicas whose member's lease is gone, and since when
// this controller saw them gone, so that one gone longer than the setting
// is forgotten as `forget NODE` would (replacement_plan). Pure bookkeeping
// with a clock given in; one thread (the controller's loop).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/assignment_plan.hpp"
#include "controller/controller_table.hpp"

namespace sluice::cluster {

class absent_members {
public:
  using clock_type = std::chrono::steady_clock;

  /// `replace_after` 0: off (nothing is ever due).
  explicit absent_members(std::chrono::milliseconds replace_after)
      : replace_after_(replace_after) {}

  /// Notes at `now` every replica of `shards` that is not in `live`; a
  /// member live again, or a replica of no shard any more, is dropped (its
  /// clock starts again if it goes away again).
  void observe(const shard_table& shards, const std::set<std::string>& live,
               clock_type::time_point now);

  /// The members gone for at least `replace_after` at `now`, by name.
  std::vector<std::string> due(clock_type::time_point now) const;

  /// When the next member not yet due will be; nullopt: none waits.
  std::optional<clock_type::time_point>
  next_due(clock_type::time_point now) const;

  /// Forgets every clock (a controller that just took over counts from
  /// its first look: it cannot know how long a member was gone before).
  void clear() { gone_since_.clear(); }

  /// Since when each absent replica was seen gone.
  const std::map<std::string, clock_type::time_point>& gone() const {
    return gone_since_;
  }

private:
  std::chrono::milliseconds replace_after_;
  std::map<std::string, clock_type::time_point> gone_since_;
};

/// What replace_after writes, and whom it forgets.
struct absent_replacement {
  /// The shards' new assignments (each shard once, every due member it had
  /// replaced).
  std::vector<shard_change> changes;
  /// Shards left alone, and why: a due member holds, with other absent
  /// members only, their acknowledged records.
  std::vector<std::pair<std::uint32_t, std::string>> refused;
  /// The due members some change forgets.
  std::vector<std::string> forgotten;
};

/// `forget` (replacement_plan, no data loss) of every member in `due`, one
/// after the other, over the members that host shards (`hosting`); a
/// change is kept only if a live member remains in the shard's isr, so the
/// acknowledged records of a shard never rest on absent members alone.
absent_replacement
absent_replacement_plan(const controller_keys& keys, const shard_table& table,
                        const std::vector<std::string>& due,
                        const std::vector<std::string>& hosting,
                        std::size_t replication_factor);

} // namespace sluice::cluster
