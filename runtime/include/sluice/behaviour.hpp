// The behaviour API: the user code that a key actor runs for each event.
// Deliberately free of CAF and protobuf, so behaviour code compiles fast.
// A context is used by one thread at a time (the key actor's).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/event.hpp"
#include "sluice/result.hpp"
#include "sluice/stage_settings.hpp"

namespace sluice {

/// Where a pending timer is kept until it fires.
enum class timer_kind : std::uint8_t {
  /// In the stage supervisor's memory: cheap, and lost if the node stops
  /// before it fires. The default.
  in_memory,
  /// In LMDB, written with the key's state in the event's transaction: it
  /// survives a crash or a restart and fires exactly once.
  durable,
};

/// Severity of a behaviour's log line (`context::log`).
enum class log_level : std::uint8_t { debug, info, warn, error };

/// What a behaviour sees and may do while it handles one event. Valid only
/// during `behaviour::on_event`.
class context {
public:
  virtual ~context() = default;

  /// The stage this key actor belongs to.
  virtual const std::string& stage() const = 0;
  /// The key this actor owns.
  virtual const std::string& key() const = 0;

  /// True when the key has state (it has processed an event before).
  virtual bool has_state() const = 0;
  /// The key's current state bytes; empty when there is none.
  virtual const std::string& state() const = 0;
  /// Replaces the key's state. Committed atomically with the event's other
  /// effects, or not at all if the behaviour throws.
  virtual void set_state(std::string bytes) = 0;
  /// Removes the key's state.
  virtual void clear_state() = 0;

  /// Emits an event to `topic`. Key, tenant and priority default to those of
  /// the event being handled when left empty / unset in `ev`.
  virtual void emit(std::string topic, event ev) = 0;
  /// Emits `payload` to `topic` under the current key.
  void emit(std::string topic, std::string payload) {
    event ev;
    ev.payload = std::move(payload);
    emit(std::move(topic), std::move(ev));
  }

  /// Adds `n` to the per-stage counter `name`, exported as the metric
  /// `sluice_behaviour_NAME_total{stage="STAGE"}`.
  virtual void count(std::string_view name, std::uint64_t n = 1) = 0;

  /// Records `value` in the per-stage histogram `name`, exported as
  /// `sluice_behaviour_NAME_seconds{stage="STAGE"}` (buckets from 1 us to
  /// about 67 s). Like `count`, applied only when the event succeeds.
  virtual void observe(std::string_view name,
                       std::chrono::microseconds value) = 0;

  /// Writes a line to the stage's log (logger `stage.STAGE`), prefixed
  /// with the key. Logged at once, so a retried event logs again: logs,
  /// like every effect outside the store, are at-least-once.
  virtual void log(log_level level, std::string_view message) = 0;

  /// Sets this key's timer `name` to fire `delay` from now. When it fires,
  /// `behaviour::on_timer` runs for the key with `ev.timer == name` and
  /// `ev.payload == payload`, in order with the key's other events. A
  /// pending timer of the same name (of either kind) is replaced. Takes
  /// effect when the event's effects commit; if the event fails, the timer
  /// is not set. A fired timer is queued like any event: it runs once,
  /// with retries and dead letters as usual, at the priority of the event
  /// that set it.
  virtual void set_timer(std::string name, std::chrono::milliseconds delay,
                         std::string payload, timer_kind kind) = 0;
  /// `set_timer` with an empty payload.
  void set_timer(std::string name, std::chrono::milliseconds delay,
                 timer_kind kind = timer_kind::in_memory) {
    set_timer(std::move(name), delay, std::string(), kind);
  }
  /// Cancels this key's pending timer `name`, if any (either kind); like
  /// `set_timer`, when the event's effects commit.
  virtual void cancel_timer(std::string name) = 0;
};

/// Thrown by a behaviour for an event that can never succeed (malformed
/// input, a violated invariant): it goes to dead letters at once, without
/// the retries that any other exception gets.
class permanent_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown by a behaviour whose in-memory state can no longer be trusted:
/// the key actor crashes and its stage supervisor restarts it from the
/// key's committed state, counting against the stage's restart intensity.
/// The event is then delivered again.
class fatal_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// User code for one stage. One instance per key actor; `on_event` is called
/// for the key's events in order. Throwing fails only the current event: it
/// is retried with backoff (see the stage's `retry`), then dead-lettered.
/// The key keeps its last good state; its later events wait for the retries
/// and then go on.
class behaviour {
public:
  virtual ~behaviour() = default;

  /// Takes the stage's `settings:` (the topology), before any event. The
  /// node calls it on every new instance, and once when the topology is
  /// bound: an error there refuses the topology, named with the stage's
  /// file and line, so a setting that cannot work never reaches an event.
  /// The default accepts no settings (`settings.only({})`).
  virtual result<void> configure(const stage_settings& settings);

  /// Handles one event for `ctx.key()`.
  virtual void on_event(context& ctx, const event& ev) = 0;

  /// Called by the reconciler when the key's output from this stage was
  /// lost downstream: re-emit it from the key's state (`ctx.state()`), as
  /// on_event would have. Return false when this stage cannot re-derive its
  /// output; the reconcile request then goes to dead letters, naming the
  /// stage. The default returns false.
  virtual bool reconcile(context& ctx);

  /// Handles a timer this stage set for `ctx.key()` (`context::set_timer`):
  /// `ev.timer` is its name and `ev.payload` its payload. It may read and
  /// write state, emit and set timers, as on_event does. The default throws
  /// permanent_error: a stage that sets timers must handle them.
  virtual void on_timer(context& ctx, const event& ev);

  /// Renders a state as JSON for `sluice export` and the console. The
  /// default renders the bytes as a JSON string.
  virtual std::string state_to_json(const std::string& state) const;
};

/// Escapes `bytes` as a JSON string literal, quotes included.
std::string json_quote(std::string_view bytes);

} // namespace sluice
