// The behaviour API: the user code that a key actor runs for each event.
// Deliberately free of CAF and protobuf, so behaviour code compiles fast.
// A context is used by one thread at a time (the key actor's).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sluice/event.hpp"

namespace sluice {

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

  /// Adds `n` to the per-stage counter `name` (exported as a metric).
  virtual void count(std::string_view name, std::uint64_t n = 1) = 0;
};

/// User code for one stage. One instance per key actor; `on_event` is called
/// for the key's events in order. Throwing fails only the current event: the
/// key keeps its last good state and goes on with its next events.
class behaviour {
public:
  virtual ~behaviour() = default;

  /// Handles one event for `ctx.key()`.
  virtual void on_event(context& ctx, const event& ev) = 0;

  /// Renders a state as JSON for `sluice export` and the console. The
  /// default renders the bytes as a JSON string.
  virtual std::string state_to_json(const std::string& state) const;
};

/// Escapes `bytes` as a JSON string literal, quotes included.
std::string json_quote(std::string_view bytes);

} // namespace sluice
