// A node's change feeds: makes subscriptions over its store (at most
// `max_subscribers` at once), lists them for the console, and closes them
// all when the node stops, before the store goes.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/feed.hpp"
#include "sluice/feed/feed_members.hpp"
#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice {

class store;

namespace feed {

struct hub_state;

/// The subscriptions of one store. Safe from any thread.
class hub {
public:
  /// `st` and `reg` must outlive the hub or its `close`, whichever is
  /// first.
  hub(const store& st, const registry& reg, std::size_t max_subscribers);
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  /// A subscription to `stage` (whose behaviour, registered in `reg`,
  /// renders states as JSON). Errors: not_found (no such stage), config
  /// (it keeps no changelog), invalid_argument (a malformed cursor or
  /// filter, a cursor of another stage), unavailable (`max_subscribers`
  /// live already, or the hub is closed).
  result<std::unique_ptr<feed_subscription>>
  subscribe(const std::string& stage, const std::string& behaviour,
            feed_options opts);

  /// On a cluster member: from now on subscriptions read every member's
  /// shards through `members`, with cluster cursors (feed_cursor.hpp).
  void serve_cluster(std::shared_ptr<feed_members> members);

  /// Every live subscription.
  std::vector<feed_subscriber> subscribers() const;

  /// Per stage, how long the last snapshot a subscriber finished took.
  std::map<std::string, std::chrono::milliseconds> snapshot_times() const;

  /// The most live subscriptions at once.
  std::size_t max_subscribers() const noexcept;

  /// From now on every subscription's `next` fails (unavailable); returns
  /// once none is inside a read of the store. Idempotent.
  void close();

private:
  std::shared_ptr<hub_state> state_;
};

} // namespace feed
} // namespace sluice
