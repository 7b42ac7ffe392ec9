// Runs a behaviour for one (stage, key): loads the key's state, applies
// events in order and turns each outcome into a store completion. The logic
// of a key actor, without the actor. Used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sluice/behaviour.hpp"
#include "sluice/pipeline_plan.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

/// How one event ended. `retrying`: it failed and waits, still queued, for
/// another try; the key's later events wait behind it.
enum class outcome : std::uint8_t { done, skipped, failed, retrying };

/// Skip-unchanged decided without a key actor: when `stored` (the key's
/// committed state) already has `ev`'s content hash, the completion that
/// acknowledges `ev` at `pos`; nullopt when the event must run.
std::optional<completion>
skip_if_unchanged(const pipeline_plan& plan, std::size_t stage_index,
                  const std::string& key, const stored_state& stored,
                  keys::queue_pos pos, const event& ev, std::int64_t now_ns);

class key_processor {
public:
  key_processor(const pipeline_plan& plan, std::size_t stage_index,
                std::string key, std::unique_ptr<behaviour> b);
  ~key_processor();

  /// Reads the key's committed state and its pending retry. A corrupt
  /// record is an error; every event then fails with that error until the
  /// record is repaired.
  result<void> load(const store& st);

  /// Processes `ev`, consumed from queue position `pos`, and returns the
  /// completion to commit. A behaviour exception fails the event: it is
  /// retried after a backoff (the completion then keeps it queued) until
  /// the stage's max_attempts, then dead-lettered with every attempt; the
  /// key keeps its last good state. Only `fatal_error` propagates: the key
  /// actor crashes and is restarted from committed state.
  completion process(keys::queue_pos pos, const event& ev, std::int64_t now_ns);

  outcome last_outcome() const noexcept { return last_; }
  const std::string& last_error() const noexcept { return last_error_; }
  std::uint64_t version() const noexcept { return version_; }
  const std::string& key() const noexcept { return key_; }

  /// Counters a behaviour bumped via `context::count` since the last call.
  std::vector<std::pair<std::string, std::uint64_t>> take_counts();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  const pipeline_plan& plan_;
  std::size_t stage_;
  std::string key_;
  std::uint64_t version_ = 0;
  outcome last_ = outcome::done;
  std::string last_error_;
};

} // namespace sluice
