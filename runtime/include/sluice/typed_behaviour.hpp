// Typed state for behaviours: the key's state as a protobuf message of the
// team's own, parsed before and written back after each event, and
// rendered as JSON for `sluice export` and the console. Header-only; this
// header includes protobuf (a team that keeps raw bytes need not).
#pragma once

#include <google/protobuf/util/json_util.h>

#include <string>

#include "sluice/behaviour.hpp"

namespace sluice {

/// The key's state as a `Message`: default-constructed when the key has
/// none. Bytes that do not parse throw `permanent_error` naming the key,
/// the stage and the message type (the event goes to dead letters).
template <class Message>
Message load_state(const context& ctx) {
  Message m;
  if (ctx.has_state() && !m.ParseFromString(ctx.state()))
    throw permanent_error("state of key '" + ctx.key() + "' in stage "
                          + ctx.stage() + " is not a valid "
                          + Message::descriptor()->full_name());
  return m;
}

/// Replaces the key's state with `m`.
template <class Message>
void store_state(context& ctx, const Message& m) {
  ctx.set_state(m.SerializeAsString());
}

/// `m` as JSON with the .proto field names, every field printed.
template <class Message>
std::string state_json(const Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok())
    return "null";
  return out;
}

/// A behaviour whose per-key state is the protobuf message `State`.
///
/// Override the three-argument `on_event` (and `on_timer` if the stage
/// sets timers): `state` is the key's state, parsed; whatever it holds when
/// the call returns is written back, unless the call threw or called
/// `drop_state()`. Exports and the console show the state as JSON.
template <class State>
class typed_behaviour : public behaviour {
public:
  /// Handles one event with the key's state.
  virtual void on_event(context& ctx, const event& ev, State& state) = 0;

  /// Handles a fired timer with the key's state. The default fails the
  /// timer event permanently, as `behaviour::on_timer` does.
  virtual void on_timer(context& ctx, const event& ev, State& state) {
    (void)state;
    behaviour::on_timer(ctx, ev);
  }

  /// Parses the state, calls the typed on_event, writes the state back.
  void on_event(context& ctx, const event& ev) final { run(ctx, ev, false); }

  /// Parses the state, calls the typed on_timer, writes the state back.
  void on_timer(context& ctx, const event& ev) final { run(ctx, ev, true); }

  /// The state as JSON (field names as in the .proto file).
  std::string state_to_json(const std::string& bytes) const override {
    State s;
    if (!s.ParseFromString(bytes))
      return "null";
    return state_json(s);
  }

protected:
  /// Called from a typed handler: remove the key's state instead of
  /// writing `state` back.
  void drop_state() noexcept { drop_ = true; }

private:
  void run(context& ctx, const event& ev, bool timer) {
    auto state = load_state<State>(ctx);
    drop_ = false;
    if (timer)
      on_timer(ctx, ev, state);
    else
      on_event(ctx, ev, state);
    if (drop_)
      ctx.clear_state();
    else
      store_state(ctx, state);
  }

  bool drop_ = false;
};

} // namespace sluice
