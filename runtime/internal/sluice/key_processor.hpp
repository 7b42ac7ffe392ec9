// Runs a behaviour for one (stage, key): loads the key's state, applies
// events in order and turns each outcome into a store completion. The logic
// of a key actor, without the actor. Used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
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

/// Runs the behaviour of one stage for one key: loads the key's committed
/// state, processes its events in order and turns each outcome into a
/// completion for the store. It writes nothing itself. Not thread-safe:
/// used by one thread at a time (its key actor's).
class key_processor {
public:
  /// A processor for `key` in stage `stage_index` of `plan`, running `b`,
  /// which it owns. `plan` must outlive it. Until `load` succeeds, every
  /// event fails.
  key_processor(const pipeline_plan& plan, std::size_t stage_index,
                std::string key, std::unique_ptr<behaviour> b);
  ~key_processor();

  /// Reads the key's committed state and its pending retry. A corrupt
  /// record is an error; every event then fails with that error until the
  /// record is repaired.
  result<void> load(const store& st);
  /// Runs for `key` from now on, with `b` (a new instance: a behaviour may
  /// keep per-key data in its members), as a new processor would; its
  /// memory and log sink are kept. `load` must follow.
  void rebind(std::string key, std::unique_ptr<behaviour> b);
  /// True when the last `load` failed because a stored record of the key
  /// is damaged (it fails its checksum, or LMDB cannot read its page): a
  /// copy elsewhere may be whole. Not for a record that reads back whole
  /// but does not parse (every copy holds the same bytes).
  bool load_damaged() const noexcept;

  /// Processes `ev`, consumed from queue position `pos`, and returns the
  /// completion to commit. A behaviour exception fails the event: it is
  /// retried after a backoff (the completion then keeps it queued) until
  /// the stage's max_attempts, then dead-lettered with every attempt; the
  /// key keeps its last good state. Only `fatal_error` propagates: the key
  /// actor crashes and is restarted from committed state.
  completion process(keys::queue_pos pos, const event& ev, std::int64_t now_ns);

  /// True when the key has committed state.
  bool has_state() const;
  /// The key's committed state bytes (empty without state).
  const std::string& state() const;
  /// True when `process(ev)` would skip `ev` as unchanged (skip_unchanged
  /// stages only), without running the behaviour.
  bool unchanged(const event& ev) const;

  /// How the last `process` call ended (`done` before the first).
  outcome last_outcome() const noexcept { return last_; }
  /// Why the last failed or retrying event failed; cleared when an event
  /// is done.
  const std::string& last_error() const noexcept { return last_error_; }
  /// The key's state version as this processor sees it: the committed one
  /// after `load`, plus one for every `process` whose completion writes
  /// the state (committed as its base version + 1). The base version of
  /// the next completion.
  std::uint64_t version() const noexcept { return version_; }
  /// The key it runs for.
  const std::string& key() const noexcept { return key_; }

  /// Counters a behaviour bumped via `context::count` since the last call.
  std::vector<std::pair<std::string, std::uint64_t>> take_counts();

  /// Values a behaviour recorded via `context::observe` (microseconds)
  /// since the last call, in order.
  std::vector<std::pair<std::string, std::uint64_t>> take_observations();

  /// Where `context::log` lines go, with the key they were logged for;
  /// none are written without one.
  using log_sink =
      std::function<void(log_level, const std::string&, std::string_view)>;
  /// Sets the sink for this key's behaviour log lines.
  void set_log_sink(log_sink sink);

private:
  result<void> load_state(const store& st);

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
