// What became of a published event: `node::publish` with
// `publish_options::on_done`, or `node::publish_and_wait`, reports when the
// event and every event it caused on this node have been processed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

/// How a tracked event ended.
enum class done_outcome {
  /// It and every event it caused on this node were processed (committed:
  /// applied, or dead-lettered).
  done,
  /// Dropped by `publish_options::once`: its id was published before.
  duplicate,
  /// Not done within `publish_and_wait`'s wait; it goes on.
  pending,
  /// The node stopped first; what is queued runs after a restart.
  abandoned,
  /// The publish itself failed: nothing was committed.
  failed,
};

/// "done", "duplicate", "pending", "abandoned" or "failed".
const char* to_string(done_outcome o) noexcept;

/// A tracked event's outcome and what it took.
struct event_done {
  std::string id;                               ///< the published event's id
  done_outcome outcome = done_outcome::pending; ///< how it ended
  /// Completions applied: the event's in each stage it reached, and those
  /// of every event it caused (its emits' ids start with its id), here.
  std::uint64_t processed = 0;
  /// Of those, how many went to dead letters.
  std::uint64_t dead_lettered = 0;
  /// Events it caused whose keys other members own: they went to the
  /// outbox, and their processing is those members' (not waited for).
  std::uint64_t forwarded = 0;
  /// From the publish call to the outcome.
  std::chrono::nanoseconds took{0};
};

/// Called once per tracked event, from one of the node's threads: it must
/// return quickly and must not call the node.
using done_callback = std::function<void(const event_done&)>;

/// Collects the outcomes of events published with its `callback()` (one
/// or several `publish` calls), and waits for them. The callback may
/// outlive the waiter. Safe from any thread.
class done_waiter {
public:
  /// Waits for the events with these ids, in this order (an id twice:
  /// two events).
  explicit done_waiter(const std::vector<std::string>& ids);
  /// For `publish_options::on_done`.
  done_callback callback() const;
  /// The outcomes once all came, or at `deadline` with `pending` for
  /// those that did not; in the order of the ids.
  std::vector<event_done>
  wait_until(std::chrono::steady_clock::time_point deadline) const;

private:
  struct shared;
  std::shared_ptr<shared> s_;
};

} // namespace sluice
